using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Tokenization;

namespace Caldera.Runtime.Model;

/// <summary>
/// One model description for every checkpoint format: the architecture and the named tensors
/// (<see cref="TensorNames"/>), pointing zero-copy into the memory-mapped source files it owns.
/// </summary>
internal sealed class ModelCheckpoint : IDisposable
{
    private readonly IDisposable[] _owners;
    private readonly Dictionary<string, TensorView> _tensors;
    private readonly Func<string, string> _storedName;

    /// <param name="storedName">Maps a canonical tensor name to the name the source file uses, so that errors
    /// speak the file's language (Hugging Face's <c>model.layers.0.self_attn.q_proj.weight</c>).</param>
    internal ModelCheckpoint(string sourcePath, string format, LlamaConfig config, IEnumerable<TensorView> tensors,
        IDisposable[] owners, EmbeddedVocabulary? vocabulary = null, Func<string, string>? storedName = null)
    {
        _storedName = storedName ?? (static n => n);
        SourcePath = sourcePath;
        Format = format;
        Config = config;
        _owners = owners;
        _tensors = new Dictionary<string, TensorView>(StringComparer.Ordinal);
        foreach (var t in tensors)
            if (!_tensors.TryAdd(t.Name, t))
                throw ModelFormatException.ForTensor(sourcePath, _storedName(t.Name), "appears twice");
        Vocabulary = vocabulary;
    }

    /// <summary>The file or directory the model was read from.</summary>
    public string SourcePath { get; }

    /// <summary>A short name of the source format ("llama2.c", "gguf v3", "safetensors").</summary>
    public string Format { get; }

    public LlamaConfig Config { get; }
    public IReadOnlyDictionary<string, TensorView> Tensors => _tensors;

    /// <summary>The tokenizer vocabulary embedded in the checkpoint, when the format carries one.</summary>
    public EmbeddedVocabulary? Vocabulary { get; }

    public long ParameterCount => _tensors.Values.Sum(t => t.ElementCount);

    /// <summary>The tensor <paramref name="name"/>, or an error naming the file and the tensor.</summary>
    public TensorView Tensor(string name) =>
        _tensors.TryGetValue(name, out var t) ? t : throw ModelFormatException.ForTensor(SourcePath, _storedName(name), "is missing");

    /// <summary>Opens a Hugging Face directory, a <c>.gguf</c> file or a llama2.c <c>.bin</c> checkpoint.</summary>
    public static ModelCheckpoint Open(string path)
    {
        if (Directory.Exists(path))
            return HfCheckpointReader.Read(path);
        if (!File.Exists(path))
            throw new ModelFormatException(path, "no such file or directory");
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || Path.GetExtension(path) == ".json")
            throw new ModelFormatException(path,
                "is one file of a Hugging Face checkpoint; pass the directory that holds config.json and the .safetensors files");
        if (StartsWithGgufMagic(path)) return GgufReader.Read(path);
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            throw new ModelFormatException(path, "has a .gguf name but does not start with the GGUF magic bytes (corrupt or mislabelled file)");
        return Llama2cReader.Read(path);
    }

    private static bool StartsWithGgufMagic(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 &&
                System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(magic) == GgufFile.Magic;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // the reader that opens it next reports the error with the file's name
        }
    }

    /// <summary>
    /// Checks that every tensor the architecture needs is present with the right shape, and that no weight
    /// is NaN or infinite (one would silently poison every logit). Loaders call this before returning.
    /// </summary>
    internal ModelCheckpoint Validate()
    {
        try
        {
            foreach (var (name, shape) in TensorNames.Expected(Config))
            {
                var t = Tensor(name);
                if (!t.Shape.AsSpan().SequenceEqual(shape))
                    throw ModelFormatException.ForTensor(SourcePath, _storedName(name),
                        $"has shape [{string.Join(", ", t.Shape)}] but the config implies [{string.Join(", ", shape)}]");
                CheckFinite(t);
            }
            return this;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private unsafe void CheckFinite(TensorView t)
    {
        const int chunk = 1 << 16;
        Span<float> buffer = t.Type == TensorType.F32 ? default : new float[chunk];
        long count = t.ElementCount;
        int size = t.Type.ElementSize();
        for (long start = 0; start < count; start += chunk)
        {
            int n = (int)Math.Min(chunk, count - start);
            var bytes = new ReadOnlySpan<byte>(t.Data + start * size, n * size);
            ReadOnlySpan<float> values;
            if (t.Type == TensorType.F32)
                values = MemoryMarshal.Cast<byte, float>(bytes);
            else
            {
                TensorView.Convert(bytes, t.Type, buffer[..n]);
                values = buffer[..n];
            }
            // A sum is finite exactly when every term is finite and it does not overflow; check the slow
            // way only when the fast test fails, to report the first bad index.
            float sum = TensorPrimitives.Sum(values) * 0f;
            if (float.IsNaN(sum))
            {
                for (int i = 0; i < n; i++)
                    if (!float.IsFinite(values[i]))
                        throw ModelFormatException.ForTensor(SourcePath, _storedName(t.Name),
                            $"element {start + i} is {values[i]}; the weights are corrupt (NaN/Inf)");
            }
        }
    }

    /// <summary>Drops the checkpoint's mapped pages from the resident set (<see cref="ByteSource.ReleaseResidentPages"/>); tensors stay readable.</summary>
    public void ReleaseResidentPages()
    {
        foreach (var owner in _owners)
            if (owner is ByteSource source) source.ReleaseResidentPages();
    }

    public void Dispose()
    {
        foreach (var owner in _owners) owner.Dispose();
    }
}
