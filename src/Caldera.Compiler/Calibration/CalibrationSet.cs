using Caldera.Runtime.Formats;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Calibration;

/// <summary>
/// N calibration sequences of L tokens, each BOS followed by the next L−1 tokens of the tokenized text
/// (consecutive, non-overlapping windows), stored row-major N × L.
/// </summary>
internal sealed class CalibrationSet
{
    /// <summary>The most sequences taken when the caller does not say how many.</summary>
    public const int DefaultMaxSamples = 128;

    private CalibrationSet(int[] tokens, int samples, int sequenceLength, string description)
    {
        Tokens = tokens;
        Samples = samples;
        SequenceLength = sequenceLength;
        Description = description;
    }

    /// <summary>N × L token ids, row-major.</summary>
    public int[] Tokens { get; }

    /// <summary>N.</summary>
    public int Samples { get; }

    /// <summary>L.</summary>
    public int SequenceLength { get; }

    /// <summary>Where the text came from (see <see cref="CalibrationText.Description"/>).</summary>
    public string Description { get; }

    public ReadOnlySpan<int> Sequence(int i) => Tokens.AsSpan(i * SequenceLength, SequenceLength);

    /// <summary>
    /// Tokenizes <paramref name="text"/> and cuts <paramref name="samples"/> sequences of
    /// <paramref name="sequenceLength"/> tokens; <paramref name="samples"/> null takes as many as the text holds,
    /// up to <see cref="DefaultMaxSamples"/>. Too little text is an error naming the numbers and the fix.
    /// </summary>
    public static CalibrationSet Create(CalibrationText text, ModelTokenizer tokenizer, int? samples, int sequenceLength)
    {
        if (sequenceLength < 2) throw new ArgumentOutOfRangeException(nameof(sequenceLength), sequenceLength, "a sequence needs BOS and at least one token");
        if (samples is < 1) throw new ArgumentOutOfRangeException(nameof(samples), samples, "at least one sequence is needed");
        int[] stream = tokenizer.Encode(text.Text, addBos: false);
        int body = sequenceLength - 1;
        int available = stream.Length / body;
        int n = samples ?? Math.Min(available, DefaultMaxSamples);
        if (available == 0 || n > available)
            throw ModelFormatException.ForSetting(text.Description, "calibration text",
                $"gives {stream.Length} tokens, {available} sequences of {sequenceLength}, but {Math.Max(n, 1)} are needed; pass a longer text with --calibration, or lower --samples or --seq-len");
        var tokens = new int[checked(n * sequenceLength)];
        for (int i = 0; i < n; i++)
        {
            tokens[i * sequenceLength] = tokenizer.BosId;
            stream.AsSpan(i * body, body).CopyTo(tokens.AsSpan(i * sequenceLength + 1));
        }
        return new CalibrationSet(tokens, n, sequenceLength, text.Description);
    }

    /// <summary>Sequences given directly as token ids (tests, or callers with their own tokenization).</summary>
    public static CalibrationSet FromTokens(int[] tokens, int sequenceLength, string description)
    {
        if (sequenceLength < 1 || tokens.Length == 0 || tokens.Length % sequenceLength != 0)
            throw new ArgumentException($"{tokens.Length} tokens are not whole sequences of {sequenceLength}", nameof(tokens));
        return new CalibrationSet(tokens, tokens.Length / sequenceLength, sequenceLength, description);
    }

    /// <summary>At most <paramref name="count"/> of the sequences, evenly spaced through the set (every ⌈N / count⌉-th), in order; the set itself when it has no more.</summary>
    public CalibrationSet Every(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (Samples <= count) return this;
        int stride = (Samples + count - 1) / count;
        int[] tokens = [.. Enumerable.Range(0, (Samples + stride - 1) / stride).SelectMany(i => Tokens.AsSpan(i * stride * SequenceLength, SequenceLength).ToArray())];
        return FromTokens(tokens, SequenceLength, Description);
    }
}
