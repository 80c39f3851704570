using System.Buffers.Binary;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Formats;

/// <summary>
/// Reads llama2.c's legacy ("version 0") checkpoint: seven little-endian int32s
/// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then F32 tensors stacked over
/// layers in a fixed order, then the unused freq_cis tables, then the classifier when vocab_size is
/// negative (a positive vocab_size means the classifier is the token embedding).
/// </summary>
internal static unsafe class Llama2cReader
{
    private const int HeaderBytes = 7 * sizeof(int);

    /// <summary>The header's own names for the config settings, used in error messages.</summary>
    private static readonly Dictionary<string, string> HeaderNames = new()
    {
        [nameof(LlamaConfig.Dim)] = "dim",
        [nameof(LlamaConfig.HiddenDim)] = "hidden_dim",
        [nameof(LlamaConfig.LayerCount)] = "n_layers",
        [nameof(LlamaConfig.HeadCount)] = "n_heads",
        [nameof(LlamaConfig.KvHeadCount)] = "n_kv_heads",
        [nameof(LlamaConfig.VocabSize)] = "vocab_size",
        [nameof(LlamaConfig.ContextLength)] = "seq_len",
    };

    public static ModelCheckpoint Read(string path) => MappedFile.Read(path, Read);

    private static ModelCheckpoint Read(MappedFile file)
    {
        string path = file.Path;
        var header = file.Span(0, HeaderBytes, "the 28-byte llama2.c header");
        var h32 = new int[7];
        for (int i = 0; i < h32.Length; i++) h32[i] = BinaryPrimitives.ReadInt32LittleEndian(header[(i * 4)..]);
        int dim = h32[0], hidden = h32[1], layers = h32[2], heads = h32[3], kvHeads = h32[4], vocab = h32[5], seqLen = h32[6];
        bool tied = vocab > 0;
        vocab = vocab == int.MinValue ? 0 : Math.Abs(vocab); // |int.MinValue| overflows; 0 is then rejected as out of range

        LlamaConfig config;
        try
        {
            if (heads <= 0 || dim <= 0 || dim % heads != 0)
                throw ModelFormatException.ForSetting(path, "n_heads", $"{heads} heads do not divide dim {dim}");
            config = new LlamaConfig
            {
                Dim = dim,
                HiddenDim = hidden,
                LayerCount = layers,
                HeadCount = heads,
                KvHeadCount = kvHeads,
                VocabSize = vocab,
                ContextLength = seqLen,
                HeadDim = dim / heads,
                TiedClassifier = tied,
                RopePairing = RopePairing.Interleaved,
            }.Validate(path, n => HeaderNames.GetValueOrDefault(n, n));
        }
        catch (ModelFormatException e)
        {
            // Any file that is neither GGUF nor a directory lands here, so say what else could have been meant.
            throw new ModelFormatException(path,
                $"{e.Problem} (not a llama2.c checkpoint? Caldera also reads .gguf files and Hugging Face directories)", e);
        }

        // Everything in 64-bit: a hostile header must not overflow into a plausible size.
        long d = dim, h = hidden, L = layers, v = vocab, kv = config.KvDim, q = config.QDim;
        long floats = v * d + L * d + L * q * d + 2 * L * kv * d + L * d * q + L * d + 3 * L * h * d + d;
        long freqCis = (long)seqLen * config.HeadDim; // real and imaginary tables, seq_len × head_size/2 each
        long expected = HeaderBytes + 4 * (floats + freqCis + (tied ? 0 : v * d));
        if (file.Length != expected)
            throw new ModelFormatException(path,
                $"the header describes a {expected}-byte llama2.c checkpoint but the file has {file.Length} bytes " +
                (file.Length < expected ? "(truncated?)" : "(trailing data; is this really a llama2.c .bin?)"));

        var tensors = new List<TensorView>();
        long offset = HeaderBytes;
        TensorView[] Stacked(Func<int, string> name, params long[] shape)
        {
            long per = shape.Aggregate(1L, (a, b) => a * b) * 4;
            var result = new TensorView[layers];
            for (int l = 0; l < layers; l++)
            {
                result[l] = new TensorView(name(l), shape, TensorType.F32, file.At(offset, per, name(l)));
                offset += per;
            }
            tensors.AddRange(result);
            return result;
        }
        TensorView Single(string name, params long[] shape)
        {
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * 4;
            var t = new TensorView(name, shape, TensorType.F32, file.At(offset, bytes, name));
            offset += bytes;
            tensors.Add(t);
            return t;
        }

        Single(TensorNames.TokenEmbedding, v, d);
        Stacked(TensorNames.AttentionNorm, d);
        Stacked(TensorNames.Query, q, d);
        Stacked(TensorNames.Key, kv, d);
        Stacked(TensorNames.Value, kv, d);
        Stacked(TensorNames.AttentionOutput, d, q);
        Stacked(TensorNames.FfnNorm, d);
        Stacked(TensorNames.Gate, h, d);
        Stacked(TensorNames.Down, d, h);
        Stacked(TensorNames.Up, h, d);
        Single(TensorNames.OutputNorm, d);
        offset += 4 * freqCis;
        if (!tied) Single(TensorNames.Output, v, d);

        return new ModelCheckpoint(path, "llama2.c", config, tensors, [file]).Validate();
    }
}
