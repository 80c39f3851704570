using Caldera.Runtime.Inference;

namespace Caldera.Runtime.Training.FineTuning;

/// <summary>The model distillation learns from: its logits for a window, computed when the window comes up.</summary>
internal interface ITeacher
{
    int VocabSize { get; }

    /// <summary>Writes every position's logits (T × vocab) for <paramref name="tokens"/> at positions 0..T−1.</summary>
    void Logits(ReadOnlySpan<int> tokens, Span<float> logits);
}

/// <summary>A teacher that is a <see cref="Transformer"/> (the full-precision checkpoint the student was compressed from).</summary>
internal sealed class TransformerTeacher(Transformer transformer) : ITeacher
{
    public int VocabSize => transformer.Config.VocabSize;

    public void Logits(ReadOnlySpan<int> tokens, Span<float> logits) => transformer.Prefill(tokens, 0, logits);
}
