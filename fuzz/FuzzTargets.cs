using System.Buffers.Binary;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Fuzz;

/// <summary>
/// What the fuzzer (fuzz/Caldera.Fuzz) and the corpus replay test (Caldera.Runtime.Tests) run on one input: a
/// reader opens the bytes as a file and uses what it read. The contract is that every input either reads or is
/// rejected with a <see cref="ModelFormatException"/>; any other exception, a hang or a huge allocation is a bug.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>The readers, as named in fuzz/corpus/ and by scripts/fuzz.sh.</summary>
    public static readonly string[] Readers = ["cald", "gguf", "safetensors", "llama2c", "tokenizer"];

    /// <summary>config.json beside a fuzzed model.safetensors: the shape of the seed that <see cref="FuzzSeeds"/> writes.</summary>
    public const string SafetensorsConfig = """
        {"architectures": ["LlamaForCausalLM"], "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 1,
         "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 8, "max_position_embeddings": 16,
         "rms_norm_eps": 1e-5, "tie_word_embeddings": true, "torch_dtype": "float32"}
        """;

    /// <summary>Writes <paramref name="input"/> into <paramref name="scratch"/> (a folder the caller owns) and reads it as <paramref name="reader"/>.</summary>
    public static void Run(string reader, byte[] input, string scratch)
    {
        switch (reader)
        {
            case "cald":
                // Almost every mutation breaks the checksum; restoring it lets the fuzzer reach the manifest reader.
                string cald = Write(scratch, "model.cald", WithValidChecksum(input));
                using (var model = LoadedModel.Open(cald))
                {
                    if (model.EmbeddedTokenizer() is { } embedded) UseTokenizer(embedded);
                    using var transformer = model.CreateTransformer(new Caldera.Runtime.Inference.TransformerOptions { Threads = 1, ContextLength = 2 });
                }
                break;
            case "gguf":
                using (var checkpoint = GgufReader.Read(Write(scratch, "model.gguf", input)))
                {
                    if (checkpoint.Vocabulary is { } vocabulary) UseTokenizer(ModelTokenizer.FromVocabulary(vocabulary, checkpoint.SourcePath));
                }
                break;
            case "safetensors":
                string folder = Path.Combine(scratch, "hf");
                Directory.CreateDirectory(folder);
                File.WriteAllText(Path.Combine(folder, HfCheckpointReader.ConfigFile), SafetensorsConfig);
                Write(folder, HfCheckpointReader.SingleFile, input);
                using (HfCheckpointReader.Read(folder)) { }
                break;
            case "llama2c":
                using (Llama2cReader.Read(Write(scratch, "model.bin", input))) { }
                break;
            case "tokenizer":
                UseTokenizer(ModelTokenizer.Load(Write(scratch, "tokenizer.model", input)));
                break;
            default:
                throw new ArgumentException($"unknown reader '{reader}' (readers: {string.Join(", ", Readers)})", nameof(reader));
        }
    }

    /// <summary>A copy of a <c>.cald</c> input whose header's file length and checksum match its bytes (other inputs unchanged).</summary>
    public static byte[] WithValidChecksum(byte[] input)
    {
        if (input.Length < CaldLayout.HeaderSize || !input.AsSpan().StartsWith(CaldLayout.Magic)) return input;
        byte[] fixedUp = (byte[])input.Clone();
        BinaryPrimitives.WriteInt64LittleEndian(fixedUp.AsSpan(CaldLayout.FileLengthOffset), fixedUp.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(fixedUp.AsSpan(CaldLayout.ChecksumOffset), CaldLayout.Checksum(fixedUp));
        return fixedUp;
    }

    private static void UseTokenizer(ModelTokenizer tokenizer)
    {
        int[] ids = tokenizer.Encode("Once upon a time, ü 🙂 <s>", addBos: true);
        tokenizer.Decode(ids);
    }

    private static string Write(string folder, string name, byte[] bytes)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
