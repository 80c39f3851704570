using System.Runtime.CompilerServices;
using System.Text;
using Caldera.Runtime.Hosting;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Sampling;
using Caldera.Runtime.Tokenization;
using Microsoft.Extensions.AI;

namespace Caldera;

/// <summary>
/// One conversation on a <see cref="CalderaModel"/>: its own KV cache and sampler on the model's shared weights, made by
/// <see cref="CalderaModel.CreateSession"/>. The cache is kept between turns, so a turn whose prompt starts with the
/// conversation so far prefills only the rest (the positions earlier prompt batches made, so the logits are those of a
/// fresh run: see <see cref="CalderaModelOptions.PromptCaching"/>); <see cref="UsageDetails.CachedInputTokenCount"/>
/// says how many prompt tokens were reused. Every open session's turns decode together, in one batch per step.
/// </summary>
/// <remarks>
/// A session runs one turn at a time; calls on different sessions, and on the model itself, may run concurrently.
/// Cancelling a turn (its token, or leaving its stream) drops it before the next step; disposing the session gives its
/// place among <see cref="CalderaModelOptions.MaxSessions"/> back and frees its cache (or, with prompt caching, leaves it to the model).
/// </remarks>
public sealed class CalderaSession : IChatClient
{
    private readonly CalderaModel _model;
    private readonly SessionHistory _history;
    private SessionTurn? _lastTurn;
    private int _turnOpen, _disposed;

    internal CalderaSession(CalderaModel model, SessionHistory history)
    {
        _model = model;
        _history = history;
    }

    /// <summary>Positions the session's cache holds: a prompt and its output together must fit.</summary>
    public int ContextLength => _history.Cache.ContextLength;

    /// <summary>Tokens of the conversation so far whose keys and values the cache holds.</summary>
    public int CachedTokenCount => _history.Length;

    /// <summary>The turn in progress or the last one (tests).</summary>
    internal SessionTurn? LastTurn => _lastTurn;

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (promptIds, generation) = _model.PrepareChat(messages, options);
        return Respond(promptIds, generation, options?.StopSequences, cancellationToken);
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var (promptIds, generation) = _model.PrepareChat(messages, options);
        return RespondStreaming(promptIds, generation, options?.StopSequences, cancellationToken);
    }

    /// <summary>The chat turn of a prepared prompt (<see cref="CalderaModel.PrepareChat"/>), whole.</summary>
    internal async Task<ChatResponse> Respond(int[] promptIds, GenerationOptions generation, IList<string>? stopSequences, CancellationToken cancellationToken)
    {
        var run = new ChatRun();
        var text = new StringBuilder();
        await foreach (string piece in Stream(promptIds, generation, stopSequences, run, cancellationToken).ConfigureAwait(false)) text.Append(piece);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ModelId = _model.Name,
            FinishReason = run.FinishReason,
            Usage = run.Usage,
        };
    }

    /// <summary>The chat turn of a prepared prompt, as updates: the pieces, then one with the finish reason and usage.</summary>
    internal async IAsyncEnumerable<ChatResponseUpdate> RespondStreaming(int[] promptIds, GenerationOptions generation, IList<string>? stopSequences,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var run = new ChatRun();
        string id = Guid.NewGuid().ToString("N");
        await foreach (string piece in Stream(promptIds, generation, stopSequences, run, cancellationToken).ConfigureAwait(false))
            yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ModelId = _model.Name, ResponseId = id, MessageId = id };
        yield return new ChatResponseUpdate(ChatRole.Assistant, run.Usage is { } usage ? [new UsageContent(usage)] : [])
        {
            ModelId = _model.Name,
            ResponseId = id,
            MessageId = id,
            FinishReason = run.FinishReason,
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return new ChatClientMetadata("caldera", null, _model.Name);
        if (serviceType.IsInstanceOfType(this)) return this;
        return serviceType.IsInstanceOfType(_model) ? _model : null;
    }

    /// <summary>
    /// Drops the turn in progress, if any, and gives the session's place among the model's sessions back; with
    /// <see cref="CalderaModelOptions.PromptCaching"/> the model keeps its cache for a later call that continues this conversation.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _lastTurn?.Cancel();
        _model.SessionEnded(_history, _lastTurn);
    }

    /// <summary>
    /// One turn: the text generated after <paramref name="promptIds"/>, cut at the first of <paramref name="stopSequences"/>;
    /// <paramref name="run"/> receives the finish reason and token counts at the end.
    /// </summary>
    internal async IAsyncEnumerable<string> Stream(int[] promptIds, GenerationOptions options, IList<string>? stopSequences, ChatRun? run,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxOutputTokens, 1, nameof(options.MaxOutputTokens));
        if (promptIds.Length == 0) throw new ArgumentException("the prompt has no tokens; it needs at least BOS", nameof(promptIds));
        if (promptIds.Length > ContextLength)
            throw new ArgumentException(
                $"the prompt has {promptIds.Length} tokens but a session's context holds {ContextLength} (CalderaModelOptions.ContextLength, at most the model's {_model.Config.ContextLength}); shorten the conversation");
        var sampler = new Sampler(_model.Config.VocabSize, options.Sampling);
        if (Interlocked.CompareExchange(ref _turnOpen, 1, 0) != 0)
            throw new InvalidOperationException("a session runs one turn at a time: finish or cancel the open one, or create another session");
        var scheduler = _model.Scheduler;
        SessionTurn? turn = null;
        try
        {
            // The last turn's stream has ended, but the scheduler may still hold it for a step: its cache is then not ours yet.
            if (_lastTurn is { } last) await last.Retired.WaitAsync(cancellationToken).ConfigureAwait(false);
            turn = new SessionTurn(_history, promptIds, _history.ReusablePrefix(promptIds), options.MaxOutputTokens, sampler, _model.EndsText, _model.SourcePath);
            _lastTurn = turn;
            scheduler.Add(turn);
            using var registration = cancellationToken.Register(static state =>
            {
                var (turn, scheduler) = ((SessionTurn, SessionScheduler))state!;
                turn.Cancel();
                scheduler.Wake();
            }, (turn, scheduler));

            var text = new TokenTextStream(_model.Tokenizer);
            var filter = new StopSequenceFilter(stopSequences?.ToArray());
            for (int i = 1; i < promptIds.Length; i++)
            {
                string piece = text.Push(promptIds[i]);
                if (options.EchoPrompt && filter.Push(piece) is { Length: > 0 } echoed) yield return echoed;
            }
            int received = 0;
            await foreach (int token in turn.Tokens.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                // Tokens the scheduler sampled ahead are already queued: a cancelled or disposed turn stops here, not after them.
                cancellationToken.ThrowIfCancellationRequested();
                ObjectDisposedException.ThrowIf(_model.IsDisposed, _model);
                ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
                _model.ThrowIfCorrupt();
                received++;
                string piece = filter.Push(text.Push(token));
                if (piece.Length > 0) yield return piece;
                if (filter.Stopped) break;
            }
            if (!filter.Stopped && filter.Push(text.Flush()) is { Length: > 0 } tail) yield return tail;
            if (filter.Flush() is { Length: > 0 } rest) yield return rest;
            // A turn ends only once the model's bytes are known to be intact: a corrupt file has streamed at most this turn's tokens.
            await _model.VerifyChecksumAsync(cancellationToken).ConfigureAwait(false);
            if (run != null)
            {
                // A turn cut by a stop sequence counts what was read; one that ran out counts every sampled id, the end-of-sequence id included.
                int generated = filter.Stopped ? received : turn.GeneratedTokens;
                run.FinishReason = filter.Stopped || !turn.ReachedLimit ? ChatFinishReason.Stop : ChatFinishReason.Length;
                run.Usage = new UsageDetails
                {
                    InputTokenCount = turn.PromptTokens,
                    CachedInputTokenCount = turn.CachedPromptTokens,
                    OutputTokenCount = generated,
                    TotalTokenCount = turn.PromptTokens + generated,
                };
            }
        }
        finally
        {
            if (turn != null)
            {
                turn.Cancel();
                scheduler.Wake();
            }
            Volatile.Write(ref _turnOpen, 0);
        }
    }
}
