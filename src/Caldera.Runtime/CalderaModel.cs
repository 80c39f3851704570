using System.ComponentModel;
using System.Runtime.CompilerServices;
using Caldera.CompilerServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Hosting;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;
using Caldera.Runtime.Training.Adapters;
using Caldera.Runtime.Training.FineTuning;
using Microsoft.Extensions.AI;

namespace Caldera;

/// <summary>
/// A compressed model compiled into an app: the base of every class the Caldera generator emits for a
/// <c>&lt;CalderaModel&gt;</c> item. It owns the opened <c>.cald</c> (read in place from a resource, a trailer or a
/// file, mapped once), the tokenizer the <c>.cald</c> carries, and one transformer (with its <see cref="WorkerPool"/>)
/// on which a scheduler thread runs every <see cref="CalderaSession"/>'s turns, their decode steps batched together.
/// <see cref="Generate"/>, <see cref="GenerateAsync"/> and the <see cref="IChatClient"/> methods each run on a session of
/// their own, so they may be called concurrently.
/// </summary>
/// <remarks>
/// A generated class overrides <see cref="KernelsFor"/> to run row kernels specialised for its exact matrix shapes;
/// <see cref="CalderaModelOptions.UseGeneratedKernels"/> = false runs the generic ones instead. As an
/// <see cref="IChatClient"/>, a model whose tokenizer is Llama 3's renders Llama 3's chat template; any other
/// model continues the user messages' text (see <see cref="ChatPrompt"/>).
/// </remarks>
public abstract class CalderaModel : IChatClient
{
    private readonly CaldFile _file;
    private readonly CompressedModelWeights _weights;
    private readonly Task<ModelTokenizer> _tokenizer;
    private bool? _chatTemplate;
    private readonly SemaphoreSlim _sessions;
    private SessionScheduler? _scheduler;

    /// <summary>
    /// With <see cref="CalderaModelOptions.PromptCaching"/>, the caches of ended sessions, oldest first, each with the
    /// tokens it holds: a new session takes the one whose conversation its prompt continues. Caches in use and kept
    /// together are at most <see cref="CalderaModelOptions.MaxSessions"/>, the number checked against memory at load.
    /// </summary>
    private readonly List<SessionHistory> _kept = [];

    /// <summary>Caches made so far (in use or kept); guarded by <see cref="_kept"/>.</summary>
    private int _caches;
    private readonly LowRankAdapter? _adapter;

    /// <summary>
    /// Opens the model that <paramref name="description"/> says the build stored for this class (or
    /// <see cref="CalderaModelOptions.ModelPath"/>), read in place, and checks that it is that exact model; a missing,
    /// stale or malformed model is a <see cref="ModelFormatException"/> saying what to do. The checksum of every byte runs
    /// beside the first generation: corrupt weights fail each generation with that error instead (docs/format.md, "Header").
    /// </summary>
    protected CalderaModel(CalderaModelDescription description, CalderaModelOptions? options)
    {
        ArgumentNullException.ThrowIfNull(description);
        Options = options ?? new CalderaModelOptions();
        // The tokenizer builds its tables from the payload on a pool thread, beside the checks of the tensors and the
        // weights' binding; it reads a copy of the bytes, so a dispose meanwhile cannot pull them from under it.
        Task<ModelTokenizer>? tokenizer = null;
        var file = CalderaModelSource.Open(GetType().Assembly, description, options, (payload, source) =>
        {
            var copy = payload with { Bytes = payload.Bytes.ToArray(), ConfigBytes = payload.ConfigBytes.ToArray() };
            tokenizer = Task.Run(() => ModelTokenizer.FromPayload(copy, source));
        });
        _file = file;
        try
        {
            _tokenizer = tokenizer
                ?? throw new ModelFormatException(file.Path, "carries no tokenizer; compress the model with a tokenizer (Tokenizer on the <CalderaModel> item, or caldera compress --tokenizer)");
            _weights = new CompressedModelWeights(file.Content, file.Path, alreadyChecked: true);
            int context = Options.ContextLength ?? Config.ContextLength;
            // A device too small for the context fails here, at load, rather than at the first generation.
            ArgumentOutOfRangeException.ThrowIfLessThan(Options.MaxSessions, 1, nameof(CalderaModelOptions.MaxSessions));
            KvCache.RequireFits(Config, context, Options.MaxSessions);
            _sessions = new SemaphoreSlim(Options.MaxSessions, Options.MaxSessions);
            if (Options.AdapterPath is { } adapterPath)
            {
                _adapter = AdapterFile.Read(adapterPath);
                AdapterFile.CheckBase(adapterPath, _adapter, file.Checksum, file.Path);
                AdapterFile.CheckGains(adapterPath, _adapter, file.Content.Config);
            }
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The model's name: the generated class's.</summary>
    public string Name => GetType().Name;

    internal LlamaConfig Config => _file.Content.Config;

    public CalderaModelOptions Options { get; }

    /// <summary>Where the weights were read from (a file, "resource … in …" or "trailer entry … of …").</summary>
    public string SourcePath => _file.Path;

    /// <summary>A new transformer over the model's weights (its own KV cache and worker pool; dispose it).</summary>
    internal Transformer CreateTransformer(TransformerOptions? options = null)
    {
        Func<LinearBinding, TransformerWeights> bind = binding => _weights.Bind(binding, Options.UseGeneratedKernels ? GeneratedKernelsFor : null);
        return new(Config, _adapter is null ? bind : AdaptedLinear.Binder(bind, _file.Content, _adapter), options ?? DefaultTransformerOptions);
    }

    /// <summary>
    /// Fine-tunes the top ranks of the model's low-rank factors on <paramref name="texts"/> (each read as its tokens after
    /// BOS), Q and the other ranks frozen, on this device, and writes the adapter to <paramref name="adapterPath"/>
    /// (atomically: a cancelled or failed run writes nothing). Load it with <see cref="CalderaModelOptions.AdapterPath"/>.
    /// Too little text or a diverging loss is a <see cref="FineTuningException"/> saying what to change.
    /// </summary>
    public Task FineTuneAsync(IEnumerable<string> texts, string adapterPath, FineTuneOptions? options = null, IProgress<FineTuneProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(adapterPath);
        var settings = (options ?? new FineTuneOptions()).ToSettings(Options.Threads);
        int[] tokens = texts.SelectMany(text => Tokenizer.Encode(text, addBos: true)).ToArray();
        lock (_lifetime)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _fineTunings++;
        }
        return Task.Run(() =>
        {
            try
            {
                _file.VerifyChecksumAsync(cancellationToken).GetAwaiter().GetResult();
                var adapter = new FineTuner(_file.Content, _file.Checksum, Path.GetFileName(_file.Path), settings).Run(tokens, null, progress, cancellationToken);
                AdapterFile.Write(adapterPath, adapter);
            }
            finally
            {
                bool release;
                lock (_lifetime) release = --_fineTunings == 0 && _releaseDeferred;
                if (release) ReleaseWeights();
            }
        });
    }

    /// <summary>
    /// The text generated after <paramref name="prompt"/> (BOS + prompt), piece by piece; temperature 0 is greedy. Each
    /// call runs on a session of its own (waiting for one while <see cref="CalderaModelOptions.MaxSessions"/> are open);
    /// cancelling drops it before the next step.
    /// </summary>
    public IEnumerable<string> Generate(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Blocking(GenerateAsync(prompt, options, cancellationToken));
    }

    /// <summary><see cref="Generate"/> as an asynchronous stream (the forward pass runs on the model's scheduler thread).</summary>
    public IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        StartScheduler();
        return OnNewSession(Tokenizer.Encode(prompt, addBos: true), options ?? new GenerationOptions(), null, null, cancellationToken);
    }

    /// <summary>
    /// A new conversation on this model, with its own KV cache, kept between its turns. Throws
    /// <see cref="InvalidOperationException"/> when <see cref="CalderaModelOptions.MaxSessions"/> sessions are open; dispose
    /// a session to free its place.
    /// </summary>
    public CalderaSession CreateSession()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_sessions.Wait(0))
            throw new InvalidOperationException(
                $"{Options.MaxSessions} sessions are open on {Name}, the most CalderaModelOptions.MaxSessions allows; dispose one, or raise MaxSessions");
        return NewSession(null);
    }

    /// <summary>
    /// The row kernels to run for <paramref name="matrix"/>, or null for the generic ones (a generated class specialises
    /// by shape). Asked only for matrices whose Q is E8P-coded and whose factors, if any, are 4-bit residual codes.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual ICompressedRowKernels? KernelsFor(MatrixShape matrix) => null;

    private ICompressedRowKernels? GeneratedKernelsFor(CompressedLinearData matrix)
    {
        var kernels = matrix.QKind == QCodeKind.E8P && (matrix.Rank == 0 || matrix.FactorBits == 4)
            ? KernelsFor(new MatrixShape(matrix.Name, matrix.Rows, matrix.Columns, matrix.Rank))
            : null;
        if (kernels != null) Interlocked.Increment(ref _generatedKernelBindings);
        return kernels;
    }

    private int _generatedKernelBindings;

    /// <summary>How many matrices have been bound to the generated class's kernels, over every transformer created (tests).</summary>
    internal int GeneratedKernelBindings => Volatile.Read(ref _generatedKernelBindings);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (promptIds, generation) = PrepareChat(messages, options);
        await _sessions.WaitAsync(cancellationToken).ConfigureAwait(false);
        using var session = NewSession(promptIds);
        return await session.Respond(promptIds, generation, options?.StopSequences, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (promptIds, generation) = PrepareChat(messages, options);
        await _sessions.WaitAsync(cancellationToken).ConfigureAwait(false);
        using var session = NewSession(promptIds);
        await foreach (var update in session.RespondStreaming(promptIds, generation, options?.StopSequences, cancellationToken).ConfigureAwait(false))
            yield return update;
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return new ChatClientMetadata("caldera", null, Name);
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    private TransformerOptions DefaultTransformerOptions => new()
    {
        Threads = Options.Threads, ContextLength = Options.ContextLength,
        Int8Activations = Options.Int8Arithmetic,
        ClassifierPrecision = Options.Int8Arithmetic ? ClassifierPrecision.Int6 : ClassifierPrecision.Stored,
        DecodeStepsBatchSize = Options.MaxSessions,
    };

    /// <summary>The model's tokenizer, waited for if it is still being built; a corrupt payload throws its <see cref="ModelFormatException"/> here.</summary>
    internal ModelTokenizer Tokenizer => _tokenizer.GetAwaiter().GetResult();

    /// <summary>Whether chats render Llama 3's template (<see cref="ChatPrompt.HasLlama3Template"/>), decided on first use.</summary>
    private bool ChatTemplate => _chatTemplate ??= ChatPrompt.HasLlama3Template(Tokenizer);

    /// <summary>Throws if the model's bytes have been found corrupt (their checksum is computed beside the first generation).</summary>
    internal void ThrowIfCorrupt() => _file.ThrowIfCorrupt();

    /// <summary>Completes once the model's checksum is known; throws if the bytes are corrupt.</summary>
    internal Task VerifyChecksumAsync(CancellationToken cancellationToken) => _file.VerifyChecksumAsync(cancellationToken);

    internal bool IsDisposed => _disposed;

    /// <summary>The scheduler every session's turns run on, started with the first session.</summary>
    internal SessionScheduler Scheduler
    {
        get
        {
            lock (_lifetime)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return _scheduler ??= NewScheduler();
            }
        }
    }

    /// <summary>
    /// Starts the scheduler (binding the weights) unless the model is disposed: called before a prompt is encoded, so
    /// that on a first generation the binding runs while the tokenizer is still being built.
    /// </summary>
    private void StartScheduler()
    {
        lock (_lifetime)
            if (!_disposed) _scheduler ??= NewScheduler();
    }

    /// <summary>The scheduler's transformer, whose decode-only data is built in the background from now on.</summary>
    private SessionScheduler NewScheduler()
    {
        var transformer = CreateTransformer();
        transformer.PrepareDecodeInBackground();
        return new SessionScheduler(transformer, ReleaseResources);
    }

    /// <summary>Whether a sampled id ends the text: an end-of-sequence id, or BOS (as llama2.c stops).</summary>
    internal bool EndsText(int token) => token == Tokenizer.BosId || Tokenizer.EosIds.Contains(token);

    /// <summary>A chat's prompt ids and the generation options its <see cref="ChatOptions"/> ask for.</summary>
    internal (int[] PromptIds, GenerationOptions Options) PrepareChat(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        StartScheduler();
        int[] promptIds = ChatPrompt.Encode(Tokenizer, ChatTemplate, messages);
        int maxOutput = options?.MaxOutputTokens ?? Options.ContextLength ?? Config.ContextLength;
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOutput, 1, nameof(ChatOptions.MaxOutputTokens));
        return (promptIds, new GenerationOptions
        {
            MaxOutputTokens = maxOutput,
            Sampling = new SamplingOptions
            {
                Temperature = options?.Temperature ?? 1f,
                TopP = options?.TopP ?? 0.9f,
                TopK = options?.TopK ?? 0,
                Seed = options?.Seed is long seed ? unchecked((ulong)seed) : null,
            },
        });
    }

    /// <summary>
    /// A session in a place already taken from <see cref="_sessions"/>, on the kept cache that holds the longest prefix of
    /// <paramref name="promptIds"/> (null: a conversation yet to begin), or on a new cache while fewer than MaxSessions
    /// exist, or else on the oldest kept one; the place is given back if the session cannot be made.
    /// </summary>
    private CalderaSession NewSession(int[]? promptIds)
    {
        var kept = TakeKept(promptIds);
        try
        {
            return new CalderaSession(this, kept ?? new SessionHistory(Scheduler.Transformer.NewCache()));
        }
        catch
        {
            lock (_kept)
            {
                if (kept is null) _caches--;
                else _kept.Add(kept);
            }
            _sessions.Release();
            throw;
        }
    }

    /// <summary>
    /// The kept history a session with <paramref name="promptIds"/> should run on, or null to make a new cache (counted):
    /// the one whose conversation the prompt continues, with the longest reusable prefix; else a new cache while fewer
    /// than MaxSessions exist, so other conversations stay for their next turns; else the kept one with the longest
    /// prefix (the oldest among equals).
    /// </summary>
    private SessionHistory? TakeKept(int[]? promptIds)
    {
        if (!Options.PromptCaching) return null;
        lock (_kept)
        {
            // Continued: newest first among equals (the latest turn of a conversation holds the most of it); any: oldest.
            int continued = -1, continuedLength = 0, any = 0, anyLength = -1;
            for (int i = 0; promptIds != null && i < _kept.Count; i++)
            {
                int length = _kept[i].ReusablePrefix(promptIds);
                if (_kept[i].ContinuedBy(length) && length >= continuedLength) (continued, continuedLength) = (i, length);
                if (length > anyLength) (any, anyLength) = (i, length);
            }
            if (continued < 0 && (_caches < Options.MaxSessions || _kept.Count == 0))
            {
                _caches++;
                return null;
            }
            int best = continued >= 0 ? continued : any;
            var history = _kept[best];
            _kept.RemoveAt(best);
            return history;
        }
    }

    /// <summary>
    /// A disposed session gives its place back; with prompt caching its cache is kept for later sessions, once the
    /// scheduler has let go of its last turn (until then the cache may still be written).
    /// </summary>
    internal void SessionEnded(SessionHistory history, SessionTurn? lastTurn)
    {
        if (!Options.PromptCaching) _sessions.Release();
        else if (lastTurn is null || lastTurn.Retired.IsCompleted) Keep(history);
        else lastTurn.Retired.ContinueWith(_ => Keep(history), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Keep(SessionHistory history)
    {
        lock (_kept) _kept.Add(history);
        _sessions.Release();
    }

    /// <summary>Tokens each kept cache holds, oldest first (tests).</summary>
    internal int[] KeptCacheLengths()
    {
        lock (_kept) return [.. _kept.Select(h => h.Length)];
    }

    /// <summary>One generation on a session of its own, made when a place is free and disposed when the stream ends.</summary>
    private async IAsyncEnumerable<string> OnNewSession(int[] promptIds, GenerationOptions options, IList<string>? stopSequences, ChatRun? run,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _sessions.WaitAsync(cancellationToken).ConfigureAwait(false);
        using var session = NewSession(promptIds);
        await foreach (string piece in session.Stream(promptIds, options, stopSequences, run, cancellationToken).ConfigureAwait(false))
            yield return piece;
    }

    /// <summary>An asynchronous stream read synchronously: its work runs on the scheduler's thread, so waiting here cannot block it.</summary>
    private static IEnumerable<string> Blocking(IAsyncEnumerable<string> source)
    {
        var pieces = source.GetAsyncEnumerator();
        try
        {
            while (pieces.MoveNextAsync().AsTask().GetAwaiter().GetResult()) yield return pieces.Current;
        }
        finally
        {
            pieces.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    // The weights are mapped from the model's file: the scheduler's thread releases them when it stops.
    private readonly object _lifetime = new();
    private volatile bool _disposed;

    /// <summary>
    /// Releases the model. A generation still open (an enumerator not yet finished or disposed) is not waited for: it
    /// throws <see cref="ObjectDisposedException"/> at its next item, and the weights are released once the scheduler
    /// has finished the step in progress.
    /// </summary>
    public void Dispose()
    {
        lock (_lifetime)
        {
            if (_disposed) return;
            _disposed = true;
            if (_scheduler is { } scheduler) scheduler.Dispose();
            else ReleaseResources();
        }
        GC.SuppressFinalize(this);
    }

    // Fine-tuning reads the mapped weights too: a release asked for while it runs waits for its end.
    private int _fineTunings;
    private bool _releaseDeferred;

    private void ReleaseResources()
    {
        lock (_lifetime)
        {
            if (_fineTunings > 0)
            {
                _releaseDeferred = true;
                return;
            }
        }
        ReleaseWeights();
    }

    private void ReleaseWeights()
    {
        _weights.Dispose();
        _file.Dispose();
    }
}
