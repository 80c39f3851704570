using System.Diagnostics;
using System.Runtime.CompilerServices;
using Caldera.Runtime.Sampling;
using Caldera.Runtime.Tokenization;

namespace Caldera.Runtime.Inference;

/// <summary>
/// Prompt in, text out: tokenizes with BOS, prefills the prompt, then samples and decodes one token at a
/// time until an end-of-sequence id (or BOS, as llama2.c stops), until <see cref="GenerationOptions.MaxOutputTokens"/>
/// tokens have been sampled, or until the context is full. Text is streamed through <see cref="TokenTextStream"/>, so multi-token characters
/// arrive whole.
/// </summary>
internal sealed class TextGenerator(Transformer transformer, ModelTokenizer tokenizer, string modelPath = "the model")
{
    /// <summary>Counts and timings of the last finished run.</summary>
    public GenerationStatistics? LastRun { get; private set; }

    /// <summary>The generated text piece by piece (after the prompt's text when <see cref="GenerationOptions.EchoPrompt"/>).</summary>
    public IEnumerable<string> Generate(string prompt, GenerationOptions? options = null) =>
        Run(Encode(prompt), options ?? new GenerationOptions(), CancellationToken.None);

    /// <summary>
    /// The generated text after <paramref name="promptIds"/>, prompt ids the caller tokenized itself (a chat
    /// template's, which carries its own BOS); cancelling stops before the next forward pass.
    /// </summary>
    public IEnumerable<string> Generate(int[] promptIds, GenerationOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        if (promptIds.Length == 0) throw new ArgumentException("the prompt has no tokens; it needs at least BOS", nameof(promptIds));
        return Run(promptIds, options ?? new GenerationOptions(), cancellationToken);
    }

    /// <summary>The whole generated text.</summary>
    public string GenerateText(string prompt, GenerationOptions? options = null) => string.Concat(Generate(prompt, options));

    /// <summary>Streams the generated text; cancelling stops before the next forward pass.</summary>
    public async IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield(); // the forward pass is synchronous work: leave the caller's context first
        foreach (var piece in Run(Encode(prompt), options ?? new GenerationOptions(), cancellationToken))
            yield return piece;
    }

    private int[] Encode(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return tokenizer.Encode(prompt, addBos: true);
    }

    private IEnumerable<string> Run(int[] promptIds, GenerationOptions options, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxOutputTokens, 1, nameof(options.MaxOutputTokens));
        // Positions to run: the prompt, then every sampled token but the last is fed back.
        int steps = (int)Math.Min((long)promptIds.Length + options.MaxOutputTokens - 1, transformer.ContextLength);
        var sampler = new Sampler(transformer.Config.VocabSize, options.Sampling);
        int promptLength = Math.Min(promptIds.Length, steps);
        var context = new int[steps];
        promptIds.AsSpan(0, promptLength).CopyTo(context);

        var text = new TokenTextStream(tokenizer);
        for (int i = 1; i < promptLength; i++)
        {
            string piece = text.Push(context[i]);
            if (options.EchoPrompt && piece.Length > 0) yield return piece;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        var logits = transformer.Prefill(context.AsSpan(0, promptLength), 0);
        var prefillTime = clock.Elapsed;
        int fed = promptLength, generated = 0;
        // A caller that stops reading early (a stop sequence) still gets the counts of what ran.
        try
        {
            while (true)
            {
                CheckFinite(logits, fed);
                int next = sampler.Sample(logits, context.AsSpan(0, fed));
                generated++;
                if (next == tokenizer.BosId || IsEndOfSequence(next)) break;
                string piece = text.Push(next);
                if (piece.Length > 0) yield return piece;
                if (fed == steps) break;
                cancellationToken.ThrowIfCancellationRequested();
                context[fed] = next;
                logits = transformer.Decode(next, fed);
                fed++;
            }
        }
        finally
        {
            LastRun = new GenerationStatistics(promptLength, generated, fed - promptLength, prefillTime, clock.Elapsed - prefillTime)
            {
                ReachedLimit = generated == steps - promptLength + 1,
            };
        }
        string rest = text.Flush();
        if (rest.Length > 0) yield return rest;
    }

    /// <summary>
    /// Finite weights can still overflow float32 on the way (a norm weight of 1e38): the logits are then NaN or infinite,
    /// and no token can be chosen. That is the model file's fault; O(vocab) per token against the O(dim·vocab) classifier.
    /// </summary>
    private void CheckFinite(ReadOnlySpan<float> logits, int position)
    {
        if (!float.IsFinite(System.Numerics.Tensors.TensorPrimitives.Sum(logits)))
            throw new ModelFormatException(modelPath,
                $"the logits at position {position} are NaN or infinite: the weights overflow float32 (corrupt or mis-scaled weights); check the file with caldera inspect or re-create it");
    }

    private bool IsEndOfSequence(int token)
    {
        foreach (int eos in tokenizer.EosIds)
            if (token == eos) return true;
        return false;
    }
}
