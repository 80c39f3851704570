using System.Runtime.CompilerServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Sampling;
using Caldera.Runtime.Tokenization;
using Microsoft.Extensions.AI;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;
using ChatRole = Microsoft.Extensions.AI.ChatRole;

namespace Caldera.Runtime.Hosting;

/// <summary>
/// A compressed model compiled into an app: the base of every class the Caldera generator emits for a
/// <c>&lt;CalderaModel&gt;</c> item. It owns the opened <c>.cald</c> (read in place from a resource, a trailer or a
/// file), the tokenizer the <c>.cald</c> carries, and one transformer (with its <see cref="WorkerPool"/>) that
/// <see cref="Generate"/> and the <see cref="IChatClient"/> methods share, one call at a time.
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
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly bool _chatTemplate;
    private TextGenerator? _generator;
    private Transformer? _transformer;

    /// <summary>Takes ownership of <paramref name="file"/> (disposed here if the model cannot be set up).</summary>
    protected CalderaModel(CaldFile file, CalderaModelOptions? options)
    {
        ArgumentNullException.ThrowIfNull(file);
        _file = file;
        Options = options ?? new CalderaModelOptions();
        try
        {
            _weights = new CompressedModelWeights(file.Content, file.Path, alreadyChecked: true);
            Tokenizer = file.Content.Tokenizer is { } payload ? ModelTokenizer.FromPayload(payload, file.Path)
                : throw new ModelFormatException(file.Path, "carries no tokenizer; compress the model with a tokenizer (Tokenizer on the <CalderaModel> item, or caldera compress --tokenizer)");
            _chatTemplate = ChatPrompt.HasLlama3Template(Tokenizer);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The model's name: the generated class's.</summary>
    public string Name => GetType().Name;

    public LlamaConfig Config => _file.Content.Config;
    public ModelTokenizer Tokenizer { get; }
    public CalderaModelOptions Options { get; }

    /// <summary>Where the weights were read from (a file, "resource … in …" or "trailer entry … of …").</summary>
    public string SourcePath => _file.Path;

    /// <summary>A new transformer over the model's weights (its own KV cache and worker pool; dispose it).</summary>
    public Transformer CreateTransformer(TransformerOptions? options = null) =>
        new(Config, pool => _weights.Bind(pool, Options.UseGeneratedKernels ? KernelsFor : null), options ?? DefaultTransformerOptions);

    /// <summary>
    /// The text generated after <paramref name="prompt"/> (BOS + prompt), piece by piece; temperature 0 is greedy.
    /// Calls on one model run one at a time.
    /// </summary>
    public IEnumerable<string> Generate(string prompt, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Run(Tokenizer.Encode(prompt, addBos: true), options ?? new GenerationOptions(), null, null, CancellationToken.None);
    }

    /// <summary>The row kernels to run for <paramref name="matrix"/>, or null for the generic ones (a generated class specialises by shape).</summary>
    protected virtual ICompressedRowKernels? KernelsFor(CompressedLinearData matrix) => null;

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
        int contextLength = Options.ContextLength ?? Config.ContextLength;
        int maxOutput = options?.MaxOutputTokens ?? contextLength;
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOutput, 1, nameof(ChatOptions.MaxOutputTokens));
        var generation = new GenerationOptions
        {
            // Steps counts positions: the prompt, then every sampled token but the last is fed back.
            Steps = (int)Math.Min((long)promptIds.Length + maxOutput - 1, contextLength),
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

    private IEnumerable<string> Run(int[] promptIds, GenerationOptions options, IList<string>? stopSequences, ChatRun? run, CancellationToken cancellationToken)
    {
        _gate.Wait(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _transformer ??= CreateTransformer();
            _generator ??= new TextGenerator(_transformer, Tokenizer);
            var filter = new StopSequenceFilter(stopSequences?.ToArray());
            foreach (string piece in _generator.Generate(promptIds, options, cancellationToken))
            {
                string text = filter.Push(piece);
                if (text.Length > 0) yield return text;
                if (filter.Stopped) break;
            }
            string rest = filter.Flush();
            if (rest.Length > 0) yield return rest;
            if (run != null && _generator.LastRun is { } stats)
            {
                int maxGenerated = Math.Min(options.Steps, _transformer.ContextLength) - Math.Min(promptIds.Length, options.Steps) + 1;
                run.FinishReason = filter.Stopped || stats.GeneratedTokens < maxGenerated ? ChatFinishReason.Stop : ChatFinishReason.Length;
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
            _gate.Release();
        }
    }

    private bool _disposed;

    public void Dispose()
    {
        _gate.Wait();
        try
        {
            if (_disposed) return;
            _disposed = true;
            _transformer?.Dispose();
            _weights.Dispose();
            _file.Dispose();
        }
        finally
        {
            _gate.Release();
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>How a chat run ended, filled in when its text is done.</summary>
    private sealed class ChatRun
    {
        public ChatFinishReason? FinishReason { get; set; }
        public UsageDetails? Usage { get; set; }
    }
}
