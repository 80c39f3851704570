using Caldera.Runtime.Inference;

namespace Caldera.Runtime.Hosting;

/// <summary>
/// Runs every session's turns on one transformer, on a thread of its own, as llama.cpp's server runs its parallel
/// slots: each step prefills one chunk of one waiting prompt (the oldest turn's), then runs one decode step of every
/// turn that is generating, all together through <see cref="Transformer.DecodeSteps"/>, so each compressed weight block
/// is decoded once per step for all of them. Turns join and leave between steps; a long prompt holds the others up by
/// one chunk per step, not by its whole length.
/// </summary>
/// <remarks>
/// A turn's tokens do not depend on what runs beside it: its prompt chunks are the chunks it would run alone, and a
/// batch of decode steps gives every row what its decode step alone gives it, bit for bit (<see cref="ILinear.ApplyDecodeSteps"/>).
/// </remarks>
internal sealed class SessionScheduler : IDisposable
{
    private readonly Transformer _transformer;
    private readonly Action _released;
    private readonly object _gate = new();
    private readonly List<SessionTurn> _turns = [];
    private readonly Thread _thread;
    private bool _disposed;

    /// <param name="transformer">Runs the steps; its <see cref="Transformer.DecodeStepsBatchSize"/> bounds the turns that decode together.</param>
    /// <param name="released">Called on the scheduler's thread once it has stopped for good: the weights may go.</param>
    public SessionScheduler(Transformer transformer, Action released)
    {
        _transformer = transformer;
        _released = released;
        _thread = new Thread(Loop) { IsBackground = true, Name = "caldera sessions" };
        _thread.Start();
    }

    public Transformer Transformer => _transformer;

    /// <summary>Prompt tokens prefilled so far, over every turn (tests count what a turn recomputed).</summary>
    public long PrefilledTokens => Interlocked.Read(ref _prefilledTokens);

    /// <summary>The most turns one step has decoded together so far (tests see that turns were batched).</summary>
    public int LargestDecodeBatch => Volatile.Read(ref _largestDecodeBatch);

    /// <summary>Batches of decode steps run so far (tests see decoding go on while a long prompt is prefilled).</summary>
    public long DecodeBatches => Interlocked.Read(ref _decodeBatches);

    private long _prefilledTokens, _decodeBatches;
    private int _largestDecodeBatch;

    /// <summary>Queues <paramref name="turn"/>; it starts at the next step.</summary>
    public void Add(SessionTurn turn)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _turns.Add(turn);
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>Wakes the scheduler so that it drops a cancelled turn now rather than at the next step.</summary>
    public void Wake()
    {
        lock (_gate) Monitor.Pulse(_gate);
    }

    /// <summary>Stops after the step in progress, without waiting for it: open turns fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.Pulse(_gate);
        }
    }

    private void Loop()
    {
        int capacity = _transformer.DecodeStepsBatchSize, vocab = _transformer.Config.VocabSize;
        var decoding = new List<SessionTurn>(capacity);
        var tokens = new int[capacity];
        var positions = new int[capacity];
        var caches = new KvCache[capacity];
        var logits = new float[capacity * vocab];
        try
        {
            while (true)
            {
                SessionTurn? prefill = null;
                decoding.Clear();
                lock (_gate)
                {
                    Retire(static turn => turn.Cancelled || turn.Finished, null);
                    while (_turns.Count == 0 && !_disposed) Monitor.Wait(_gate);
                    if (_disposed) break;
                    foreach (var turn in _turns)
                    {
                        if (turn.Prefilling) prefill ??= turn;
                        else if (decoding.Count < capacity) decoding.Add(turn);
                    }
                }

                if (prefill != null) Run(prefill);
                if (decoding.Count > 0) Run(decoding, tokens, positions, caches, logits);
            }
            lock (_gate) Retire(static _ => true, new ObjectDisposedException(nameof(CalderaModel)));
        }
        finally
        {
            _transformer.Dispose();
            _released();
        }
    }

    /// <summary>Drops the turns <paramref name="leaves"/> picks (under the lock), ending them with <paramref name="failure"/>.</summary>
    private void Retire(Func<SessionTurn, bool> leaves, Exception? failure)
    {
        for (int i = _turns.Count - 1; i >= 0; i--)
        {
            var turn = _turns[i];
            if (!leaves(turn)) continue;
            _turns.RemoveAt(i);
            turn.Retire(turn.Cancelled ? null : failure);
        }
    }

    /// <summary>The next prompt chunk of <paramref name="turn"/>; its first token is sampled when the prompt is done.</summary>
    private void Run(SessionTurn turn)
    {
        try
        {
            var chunk = turn.NextPromptChunk(_transformer.PrefillBatchSize);
            turn.PrefillStartBatches ??= DecodeBatches;
            var last = _transformer.Prefill(turn.Cache, chunk, turn.Position);
            turn.Advanced(chunk);
            Interlocked.Add(ref _prefilledTokens, chunk.Length);
            if (turn.Prefilling) return;
            turn.PrefillEndBatches = DecodeBatches;
            turn.Sample(last);
        }
        catch (Exception e)
        {
            turn.Finish(e);
        }
    }

    /// <summary>One decode step of every turn in <paramref name="turns"/>, together.</summary>
    private void Run(List<SessionTurn> turns, int[] tokens, int[] positions, KvCache[] caches, float[] logits)
    {
        int n = turns.Count, vocab = _transformer.Config.VocabSize;
        if (n > _largestDecodeBatch) Volatile.Write(ref _largestDecodeBatch, n);
        Interlocked.Increment(ref _decodeBatches);
        for (int t = 0; t < n; t++)
        {
            tokens[t] = turns[t].NextToken;
            positions[t] = turns[t].Position;
            caches[t] = turns[t].Cache;
        }
        try
        {
            _transformer.DecodeSteps(tokens.AsSpan(0, n), positions, caches, logits.AsSpan(0, n * vocab));
        }
        catch (Exception e)
        {
            foreach (var turn in turns) turn.Finish(e);
            return;
        }
        finally
        {
            Array.Clear(caches);
        }
        for (int t = 0; t < n; t++)
        {
            try
            {
                turns[t].Advanced(tokens.AsSpan(t, 1));
                turns[t].Sample(logits.AsSpan(t * vocab, vocab));
            }
            catch (Exception e)
            {
                turns[t].Finish(e);
            }
        }
    }
}
