using System.Buffers.Binary;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;
using Caldera.Runtime.Tests.Compression;
using Caldera.Runtime.Tests.Formats;
using Caldera.Tests;

namespace Caldera.Fuzz;

/// <summary>
/// The first inputs of each reader's corpus: the smallest valid files the tests know how to build (a dim-8
/// one-layer Llama in GGUF v2/v3, safetensors and llama2.c form, a synthetic two-layer <c>.cald</c>) and the
/// 512-token tokenizers from ../shared/models. Each must read cleanly, or the fuzzer would start from rejections.
/// </summary>
internal static class FuzzSeeds
{
    public static void Write(string corpus)
    {
        var seeds = new List<(string Reader, string Name, byte[] Bytes)>
        {
            ("gguf", "tiny-v3.gguf", TestTensors.TinyGguf(3).ToBytes()),
            ("gguf", "tiny-v2.gguf", TestTensors.TinyGguf(2).ToBytes()),
            ("tokenizer", "tok512.model", File.ReadAllBytes(TestModels.Tok512Model)),
            ("tokenizer", "tok512.bin", File.ReadAllBytes(TestModels.Shared("stories260K/tok512.bin"))),
            ("tokenizer", "tiny-tokenizer.json", TinyTokenizerJson()),
            ("cald", "synthetic.cald", Cald()),
        };
        string scratch = Directory.CreateTempSubdirectory("caldera-fuzz-seed-").FullName;
        try
        {
            string gguf = Path.Combine(scratch, "tiny.gguf");
            File.WriteAllBytes(gguf, TestTensors.TinyGguf(3).ToBytes());
            using (var tiny = GgufReader.Read(gguf))
            {
                seeds.Add(("llama2c", "tiny.bin", Llama2c(tiny)));
                string hf = Path.Combine(scratch, "hf");
                HfCheckpointWriter.Write(tiny, hf, TensorType.F32);
                seeds.Add(("safetensors", "tiny.safetensors", File.ReadAllBytes(Path.Combine(hf, HfCheckpointReader.SingleFile))));
            }
            foreach (var (reader, name, bytes) in seeds)
            {
                string check = Directory.CreateDirectory(Path.Combine(scratch, "check-" + name)).FullName;
                FuzzTargets.Run(reader, bytes, check); // throws if a seed is not a valid input
                string folder = Directory.CreateDirectory(Path.Combine(corpus, reader)).FullName;
                File.WriteAllBytes(Path.Combine(folder, name), bytes);
                Console.WriteLine($"{reader}/{name}: {bytes.Length} bytes");
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static byte[] Cald()
    {
        string path = Path.Combine(Path.GetTempPath(), $"caldera-fuzz-seed-{Environment.ProcessId}.cald");
        var tokenizer = new TokenizerPayload(TokenizerPayloadKind.Llama2cBin, File.ReadAllBytes(TestModels.Shared("stories260K/tok512.bin")), default);
        try
        {
            CaldWriter.Write(path, SyntheticCompressed.Model(tokenizer));
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>llama2.c's layout: seven int32 (dim, hidden, layers, heads, kv heads, vocab, seq len), then float32 weights.</summary>
    private static byte[] Llama2c(ModelCheckpoint source)
    {
        var c = source.Config;
        var stream = new MemoryStream();
        var writer = new BinaryWriter(stream);
        foreach (int v in new[] { c.Dim, c.HiddenDim, c.LayerCount, c.HeadCount, c.KvHeadCount, c.VocabSize, c.ContextLength })
            writer.Write(v);
        void Tensors(Func<int, string> name)
        {
            for (int l = 0; l < c.LayerCount; l++)
                foreach (float f in source.Tensor(name(l)).ToArray()) writer.Write(f);
        }
        foreach (float f in source.Tensor(TensorNames.TokenEmbedding).ToArray()) writer.Write(f);
        Tensors(TensorNames.AttentionNorm);
        Tensors(TensorNames.Query);
        Tensors(TensorNames.Key);
        Tensors(TensorNames.Value);
        Tensors(TensorNames.AttentionOutput);
        Tensors(TensorNames.FfnNorm);
        Tensors(TensorNames.Gate);
        Tensors(TensorNames.Down);
        Tensors(TensorNames.Up);
        foreach (float f in source.Tensor(TensorNames.OutputNorm).ToArray()) writer.Write(f);
        for (int i = 0; i < c.ContextLength * c.HeadDim; i++) writer.Write(0f); // freq_cis_real and freq_cis_imag, unused
        writer.Flush();
        return stream.ToArray();
    }

    /// <summary>A byte-level BPE tokenizer.json: the 256 single bytes, three merges, BOS/EOS as added tokens.</summary>
    private static byte[] TinyTokenizerJson()
    {
        var vocab = new System.Text.Json.Nodes.JsonObject();
        for (char c = '\0'; c < 0x200; c++)
            if (ByteLevelAlphabet.TryGetBytes(c.ToString(), out byte[] single)) vocab[c.ToString()] = single[0];
        vocab["On"] = 256;
        vocab["ce"] = 257;
        vocab["Once"] = 258;
        var json = new System.Text.Json.Nodes.JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = System.Text.Json.Nodes.JsonNode.Parse("""
                [{"id": 259, "content": "<|begin_of_text|>", "special": true}, {"id": 260, "content": "<|end_of_text|>", "special": true}]
                """),
            ["pre_tokenizer"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new System.Text.Json.Nodes.JsonObject
            {
                ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new System.Text.Json.Nodes.JsonArray("O n", "c e", "On ce"),
            },
        };
        return System.Text.Encoding.UTF8.GetBytes(json.ToJsonString());
    }
}
