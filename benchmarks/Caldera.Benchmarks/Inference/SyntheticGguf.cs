using System.Runtime.InteropServices;
using System.Text;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// Writes a <see cref="SyntheticLlama"/> of any shape to an F16 GGUF file, one tensor at a time (an 8B-shaped model
/// does not fit in one array), with the same weights <see cref="SyntheticLlama.Build"/> makes for that shape. The file
/// has no vocabulary: <c>scripts/make-synthetic-gguf.sh</c> puts a real tokenizer.model beside it, where
/// <c>caldera compress</c> finds it. Run:
///   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- synthetic-gguf 0.5b|8b [layers] out.gguf
/// </summary>
internal static class SyntheticGguf
{
    private const int Alignment = GgufFile.DefaultAlignment;

    /// <summary>The dim-2048 0.5B shape (<see cref="SyntheticLlama.Config"/>) or Llama-3-8B's widths with vocab 32000.</summary>
    public static LlamaConfig Preset(string name, int? layers) => name switch
    {
        "0.5b" => SyntheticLlama.Config with { LayerCount = layers ?? SyntheticLlama.Config.LayerCount },
        "8b" => new LlamaConfig
        {
            Dim = 4096, HiddenDim = 14336, LayerCount = layers ?? 32, HeadCount = 32, KvHeadCount = 8, VocabSize = 32000,
            ContextLength = 2048, HeadDim = 128, RopeTheta = 500000f, TiedClassifier = false,
        },
        _ => throw new ArgumentException($"preset '{name}': use 0.5b (dim 2048, 8 layers) or 8b (dim 4096, ffn 14336, 32 layers)."),
    };

    public static void Run(string[] args)
    {
        if (args.Length is < 2 or > 3) throw new ArgumentException("usage: synthetic-gguf 0.5b|8b [layers] out.gguf");
        var config = Preset(args[0], args.Length == 3 ? int.Parse(args[1]) : null);
        string path = args[^1];
        Write(config, path);
        Console.WriteLine($"wrote {path}: {new FileInfo(path).Length / 1e9:F2} GB, dim {config.Dim}, ffn {config.HiddenDim}, {config.LayerCount} layers, " +
            $"{config.HeadCount} heads, {config.KvHeadCount} KV heads, vocab {config.VocabSize}");
    }

    public static void Write(LlamaConfig c, string path)
    {
        var tensors = TensorNames.Expected(c).ToList();
        using var file = new FileStream(path + ".tmp", FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using (var w = new BinaryWriter(file, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(GgufFile.Magic);
            w.Write(3u);
            w.Write((ulong)tensors.Count);
            (string Key, object Value)[] metadata =
            [
                ("general.architecture", "llama"), ("general.name", $"synthetic-llama-{c.Dim}d-{c.LayerCount}l"),
                ("llama.context_length", (uint)c.ContextLength), ("llama.embedding_length", (uint)c.Dim),
                ("llama.feed_forward_length", (uint)c.HiddenDim), ("llama.block_count", (uint)c.LayerCount),
                ("llama.attention.head_count", (uint)c.HeadCount), ("llama.attention.head_count_kv", (uint)c.KvHeadCount),
                ("llama.rope.dimension_count", (uint)c.HeadDim), ("llama.rope.freq_base", c.RopeTheta),
                ("llama.attention.layer_norm_rms_epsilon", c.NormEpsilon),
            ];
            w.Write((ulong)metadata.Length);
            foreach (var (key, value) in metadata)
            {
                String(w, key);
                switch (value)
                {
                    case string s: w.Write((uint)GgufValueType.String); String(w, s); break;
                    case uint u: w.Write((uint)GgufValueType.UInt32); w.Write(u); break;
                    case float f: w.Write((uint)GgufValueType.Float32); w.Write(f); break;
                }
            }
            ulong offset = 0;
            foreach (var (name, shape) in tensors)
            {
                String(w, name);
                w.Write((uint)shape.Length);
                foreach (long ne in shape.Reverse()) w.Write((ulong)ne); // GGUF lists dims innermost first
                w.Write(shape.Length == 1 ? GgmlType.F32 : GgmlType.F16);
                w.Write(offset);
                offset = Align(offset + (ulong)Bytes(shape));
            }
        }
        Pad(file);

        ulong state = SyntheticLlama.Seed;
        foreach (var (_, shape) in tensors)
        {
            long bytes = Bytes(shape);
            var buffer = new byte[bytes];
            if (shape.Length == 1) MemoryMarshal.Cast<byte, float>(buffer.AsSpan()).Fill(1f);
            else SyntheticLlama.FillUniform(MemoryMarshal.Cast<byte, Half>(buffer.AsSpan()), shape[1], ref state);
            file.Write(buffer);
            Pad(file);
        }
        file.Close();
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private static long Bytes(long[] shape) => shape.Length == 1 ? shape[0] * sizeof(float) : shape[0] * shape[1] * 2;

    private static ulong Align(ulong x) => (x + Alignment - 1) / Alignment * Alignment;

    private static void Pad(FileStream file)
    {
        long padding = (long)Align((ulong)file.Position) - file.Position;
        for (long i = 0; i < padding; i++) file.WriteByte(0);
    }

    private static void String(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }
}
