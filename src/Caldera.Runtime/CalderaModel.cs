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
/// file), the tokenizer the <c>.cald</c> carries, and one transformer (with its <see cref="WorkerPool"/>) that
/// <see cref="Generate"/>, <see cref="GenerateAsync"/> and the <see cref="IChatClient"/> methods use one at a time; a call
/// that finds it busy runs on a transformer of its own, so concurrent and interleaved calls all proceed.
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
    private readonly bool _chatTemplate;
    private TextGenerator? _generator;
    private Transformer? _transformer;
    private readonly LowRankAdapter? _adapter;

    /// <summary>
    /// Opens the model that <paramref name="description"/> says the build stored for this class (or
    /// <see cref="CalderaModelOptions.ModelPath"/>), read in place, and checks that it is that exact model; a missing,
    /// stale or corrupt model is a <see cref="ModelFormatException"/> saying what to do.
    /// </summary>
    protected CalderaModel(CalderaModelDescription description, CalderaModelOptions? options)
    {
        ArgumentNullException.ThrowIfNull(description);
        Options = options ?? new CalderaModelOptions();
        var file = CalderaModelSource.Open(GetType().Assembly, description, options);
        _file = file;
        try
        {
            _weights = new CompressedModelWeights(file.Content, file.Path, alreadyChecked: true);
            Tokenizer = file.Content.Tokenizer is { } payload ? ModelTokenizer.FromPayload(payload, file.Path)
                : throw new ModelFormatException(file.Path, "carries no tokenizer; compress the model with a tokenizer (Tokenizer on the <CalderaModel> item, or caldera compress --tokenizer)");
            _chatTemplate = ChatPrompt.HasLlama3Template(Tokenizer);
            // A device too small for the context fails here, at load, rather than at the first generation.
            RunState.RequireKvCacheFits(Config, Options.ContextLength ?? Config.ContextLength);
            if (Options.AdapterPath is { } adapterPath)
            {
                _adapter = AdapterFile.Read(adapterPath);
                AdapterFile.CheckBase(adapterPath, _adapter, file.Checksum, file.Path);
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
    internal ModelTokenizer Tokenizer { get; }

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
        return Task.Run(() =>
        {
            Enter();
            try
            {
                var adapter = new FineTuner(_file.Content, _file.Checksum, Path.GetFileName(_file.Path), settings).Run(tokens, null, progress, cancellationToken);
                AdapterFile.Write(adapterPath, adapter);
            }
            finally
            {
                Exit();
            }
        }, cancellationToken);
    }

    /// <summary>
    /// The text generated after <paramref name="prompt"/> (BOS + prompt), piece by piece; temperature 0 is greedy.
    /// Calls on one model run one at a time; cancelling stops before the next forward pass.
    /// </summary>
    public IEnumerable<string> Generate(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Run(Tokenizer.Encode(prompt, addBos: true), options ?? new GenerationOptions(), null, null, cancellationToken);
    }

    /// <summary>
    /// <see cref="Generate"/> as an asynchronous stream: the forward pass runs off the caller's context, and
    /// cancelling stops before the next forward pass.
    /// </summary>
    public async IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        await Task.Yield(); // the forward pass is synchronous work: leave the caller's context first
        foreach (string piece in Run(Tokenizer.Encode(prompt, addBos: true), options ?? new GenerationOptions(), null, null, cancellationToken))
            yield return piece;
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
        var run = new ChatRun();
        var text = new System.Text.StringBuilder();
        await foreach (string piece in Chat(messages, options, run, cancellationToken).ConfigureAwait(false)) text.Append(piece);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ModelId = Name,
            FinishReason = run.FinishReason,
            Usage = run.Usage,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var run = new ChatRun();
        string id = Guid.NewGuid().ToString("N");
        await foreach (string piece in Chat(messages, options, run, cancellationToken).ConfigureAwait(false))
            yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ModelId = Name, ResponseId = id, MessageId = id };
        yield return new ChatResponseUpdate(ChatRole.Assistant, run.Usage is { } usage ? [new UsageContent(usage)] : [])
        {
            ModelId = Name,
            ResponseId = id,
            MessageId = id,
            FinishReason = run.FinishReason,
        };
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
    };

    /// <summary>The chat's generated text; <paramref name="run"/> receives the finish reason and token counts at the end.</summary>
    private async IAsyncEnumerable<string> Chat(IEnumerable<ChatMessage> messages, ChatOptions? options, ChatRun run,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        int[] promptIds = ChatPrompt.Encode(Tokenizer, _chatTemplate, messages);
        int maxOutput = options?.MaxOutputTokens ?? Options.ContextLength ?? Config.ContextLength;
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOutput, 1, nameof(ChatOptions.MaxOutputTokens));
        var generation = new GenerationOptions
        {
            MaxOutputTokens = maxOutput,
            Sampling = new SamplingOptions
            {
                Temperature = options?.Temperature ?? 1f,
                TopP = options?.TopP ?? 0.9f,
                TopK = options?.TopK ?? 0,
                Seed = options?.Seed is long seed ? unchecked((ulong)seed) : null,
            },
        };
        await Task.Yield(); // the forward pass is synchronous work: leave the caller's context first
        foreach (string piece in Run(promptIds, generation, options?.StopSequences, run, cancellationToken))
            yield return piece;
    }

    /// <summary>
    /// One generation. The model's own transformer (and so its KV cache) serves one generation at a time, from its first
    /// item to its last; a generation that finds it busy runs on a transformer of its own (its own KV cache and worker
    /// pool, freed when it ends) instead of waiting. Waiting could never end when the busy one is an open enumerator of
    /// the same caller (two enumerators advanced in turn, as Zip does, or two streams interleaved in one async flow).
    /// </summary>
    private IEnumerable<string> Run(int[] promptIds, GenerationOptions options, IList<string>? stopSequences, ChatRun? run,
        CancellationToken cancellationToken)
    {
        Enter();
        bool shared = Interlocked.CompareExchange(ref _sharedBusy, 1, 0) == 0;
        Transformer? own = null;
        try
        {
            TextGenerator generator;
            if (shared)
            {
                _transformer ??= CreateTransformer();
                generator = _generator ??= new TextGenerator(_transformer, Tokenizer, SourcePath);
            }
            else
            {
                own = CreateTransformer();
                generator = new TextGenerator(own, Tokenizer, SourcePath);
            }
            var filter = new StopSequenceFilter(stopSequences?.ToArray());
            foreach (string piece in generator.Generate(promptIds, options, cancellationToken))
            {
                string text = filter.Push(piece);
                if (text.Length > 0) yield return text;
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (filter.Stopped) break;
            }
            string rest = filter.Flush();
            if (rest.Length > 0) yield return rest;
            if (run != null && generator.LastRun is { } stats)
            {
                run.FinishReason = filter.Stopped || !stats.ReachedLimit ? ChatFinishReason.Stop : ChatFinishReason.Length;
                run.Usage = new UsageDetails
                {
                    InputTokenCount = stats.PromptTokens,
                    OutputTokenCount = stats.GeneratedTokens,
                    TotalTokenCount = stats.PromptTokens + stats.GeneratedTokens,
                };
            }
        }
        finally
        {
            own?.Dispose();
            if (shared) Volatile.Write(ref _sharedBusy, 0);
            Exit();
        }
    }

    /// <summary>1 while a generation runs on the model's own transformer.</summary>
    private int _sharedBusy;

    // The weights are mapped from the model's file, so they are released only when no generation uses them.
    private readonly object _lifetime = new();
    private int _generations;
    private volatile bool _disposed;

    private void Enter()
    {
        lock (_lifetime)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _generations++;
        }
    }

    private void Exit()
    {
        lock (_lifetime)
        {
            if (--_generations == 0 && _disposed) ReleaseResources();
        }
    }

    /// <summary>
    /// Releases the model. A generation still open (an enumerator not yet finished or disposed) is not waited for: it
    /// throws <see cref="ObjectDisposedException"/> at its next item, and the weights are released when it ends.
    /// </summary>
    public void Dispose()
    {
        lock (_lifetime)
        {
            if (_disposed) return;
            _disposed = true;
            if (_generations == 0) ReleaseResources();
        }
        GC.SuppressFinalize(this);
    }

    private void ReleaseResources()
    {
        _transformer?.Dispose();
        _weights.Dispose();
        _file.Dispose();
    }

    /// <summary>How a chat run ended, filled in when its text is done.</summary>
    private sealed class ChatRun
    {
        public ChatFinishReason? FinishReason { get; set; }
        public UsageDetails? Usage { get; set; }
    }
}
