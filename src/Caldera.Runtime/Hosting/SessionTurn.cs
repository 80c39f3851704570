using System.Diagnostics;
using System.Numerics.Tensors;
using System.Threading.Channels;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Sampling;

namespace Caldera.Runtime.Hosting;

/// <summary>
/// One turn of a session on the <see cref="SessionScheduler"/>: the prompt's new tokens are prefilled (a chunk per
/// scheduler step), then each step feeds back the last sampled token, until an end-of-sequence id, the output limit,
/// the context's end, or cancellation. Sampled ids go to <see cref="Tokens"/> as they come; the reader turns them into
/// text. Only the scheduler's thread advances a turn; the reader only reads the channel and may <see cref="Cancel"/>.
/// </summary>
internal sealed class SessionTurn
{
    private readonly SessionHistory _history;
    private readonly int[] _prompt;
    private readonly int _maxOutput;
    private readonly Sampler _sampler;
    private readonly Channel<int> _tokens = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource _retired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Func<int, bool> _ends;
    private readonly string _modelPath;
    private readonly Stopwatch _clock = new();
    private volatile bool _cancelled;

    /// <param name="history">The session's cache and the tokens it holds; the prompt is prefilled from <paramref name="reused"/> on.</param>
    /// <param name="ends">Whether a sampled id ends the text (end of sequence, or BOS as llama2.c stops).</param>
    public SessionTurn(SessionHistory history, int[] prompt, int reused, int maxOutput, Sampler sampler, Func<int, bool> ends, string modelPath)
    {
        _history = history;
        _prompt = prompt;
        _maxOutput = maxOutput;
        _sampler = sampler;
        _ends = ends;
        _modelPath = modelPath;
        CachedPromptTokens = reused;
        Position = reused;
        _history.Truncate(reused);
        _history.LastPromptLength = prompt.Length;
    }

    /// <summary>The sampled ids, in order; completed when the turn ends (with the failure, if it failed).</summary>
    public ChannelReader<int> Tokens => _tokens.Reader;

    /// <summary>Completes when the scheduler has let go of the turn: the session's cache is then safe to reuse.</summary>
    public Task Retired => _retired.Task;

    public KvCache Cache => _history.Cache;

    /// <summary>The next position to run: the prompt's next token while prefilling, then the last sampled token's.</summary>
    public int Position { get; private set; }

    public bool Prefilling => Position < _prompt.Length;
    public bool Cancelled => _cancelled;
    public bool Finished { get; private set; }
    public int PromptTokens => _prompt.Length;

    /// <summary>Prompt tokens whose keys and values the session's cache already held, so they were not prefilled again.</summary>
    public int CachedPromptTokens { get; }

    public int GeneratedTokens { get; private set; }

    /// <summary>Whether the turn stopped at the output limit or the context's end rather than at an end-of-sequence id.</summary>
    public bool ReachedLimit { get; private set; }

    /// <summary>The token the next decode step runs (the last sampled one).</summary>
    public int NextToken { get; private set; }

    /// <summary>
    /// When set, receives the <see cref="Stopwatch"/> timestamp of each token as the scheduler hands it over (the sessions
    /// probe times tokens where they are made, not where a reader that the scheduler's threads crowd out wakes up).
    /// </summary>
    public List<long>? TokenTimes { get; init; }

    /// <summary>The scheduler's <see cref="SessionScheduler.DecodeBatches"/> when this turn's prefill began and ended (tests see other turns decode meanwhile).</summary>
    public long? PrefillStartBatches { get; set; }

    /// <inheritdoc cref="PrefillStartBatches"/>
    public long? PrefillEndBatches { get; set; }

    /// <summary>Asks the scheduler to drop the turn before its next step (a reader that stopped reading, or a cancelled token).</summary>
    public void Cancel() => _cancelled = true;

    /// <summary>
    /// The prompt's next chunk of at most <paramref name="limit"/> tokens, to prefill at <see cref="Position"/>. A chunk never
    /// leaves a single token behind: a lone token runs as a decode step does, which rounds otherwise than a batch.
    /// </summary>
    public ReadOnlySpan<int> NextPromptChunk(int limit)
    {
        int left = _prompt.Length - Position;
        return _prompt.AsSpan(Position, left == limit + 1 && limit > 2 ? limit - 1 : Math.Min(limit, left));
    }

    /// <summary>The scheduler ran <paramref name="count"/> tokens (a prompt chunk or the fed-back token) at <see cref="Position"/>.</summary>
    public void Advanced(ReadOnlySpan<int> tokens)
    {
        if (!_clock.IsRunning) _clock.Start();
        _history.Append(tokens, batch: Prefilling);
        Position += tokens.Length;
    }

    /// <summary>Samples the next token from <paramref name="logits"/> and hands it to the reader, or ends the turn.</summary>
    public void Sample(ReadOnlySpan<float> logits)
    {
        if (!float.IsFinite(TensorPrimitives.Sum(logits)))
            throw new ModelFormatException(_modelPath,
                $"the logits at position {Position} are NaN or infinite: the weights overflow float32 (corrupt or mis-scaled weights); check the file with caldera inspect or re-create it");
        int next = _sampler.Sample(logits, _history.Tokens);
        GeneratedTokens++;
        if (_ends(next))
        {
            Finish(null);
            return;
        }
        _tokens.Writer.TryWrite(next);
        TokenTimes?.Add(Stopwatch.GetTimestamp());
        if (GeneratedTokens == _maxOutput || Position == Cache.ContextLength)
        {
            ReachedLimit = true;
            Finish(null);
            return;
        }
        NextToken = next;
    }

    /// <summary>Ends the turn: the reader sees the end of the tokens, or <paramref name="failure"/>.</summary>
    public void Finish(Exception? failure)
    {
        if (Finished) return;
        Finished = true;
        _tokens.Writer.TryComplete(failure);
    }

    /// <summary>The scheduler has dropped the turn; nothing touches the session's cache for it any more.</summary>
    public void Retire(Exception? failure)
    {
        Finish(failure);
        _retired.TrySetResult();
    }
}
