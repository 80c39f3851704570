using Caldera.Cli;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tests.Formats;

namespace Caldera.Runtime.Tests.Compression;

public class CompressedModelRunTests
{
    [Fact]
    public void A_loaded_cald_gives_the_logits_of_its_in_memory_content()
    {
        using var dir = new TempDirectory();
        var content = SyntheticCompressed.Model();
        string path = dir.File("m.cald");
        CaldWriter.Write(path, content);

        using var weights = new CompressedModelWeights(content);
        using var inMemory = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 2 });
        using var model = LoadedModel.Open(path);
        using var loaded = model.CreateTransformer(new TransformerOptions { Threads = 1 });
        int[] tokens = [1, 5, 9, 30, 2, 7];
        var expected = new float[tokens.Length * content.Config.VocabSize];
        var actual = new float[expected.Length];
        inMemory.Prefill(tokens, 0, expected);
        loaded.Prefill(tokens, 0, actual);
        Assert.Equal(expected, actual);
        Assert.All(actual, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(inMemory.Decode(7, tokens.Length).ToArray(), loaded.Decode(7, tokens.Length).ToArray());
    }

    [Fact]
    public void Inspect_describes_a_cald_file()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.cald");
        CaldWriter.Write(path, SyntheticCompressed.Model());
        var stdout = new StringWriter();
        Assert.Equal(0, CalderaCli.Run(["inspect", path], stdout, TextWriter.Null));
        string text = stdout.ToString();
        Assert.Contains("cald (compressed", text);
        Assert.Contains("bits/weight:", text);
        Assert.Contains("blk.1.ffn_down.weight", text);
        Assert.Contains("E8P + rank 4 (4-bit)", text);
        Assert.Contains("uniform 3-bit", text);
    }

    [Fact]
    public void Run_on_a_corrupt_cald_prints_the_error_and_exits_2()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.cald");
        CaldWriter.Write(path, SyntheticCompressed.Model());
        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 1;
        File.WriteAllBytes(path, bytes);
        var stderr = new StringWriter();
        Assert.Equal(2, CalderaCli.Run(["run", path, "--prompt", "hi"], TextWriter.Null, stderr));
        Assert.Contains($"caldera: {path}: checksum mismatch", stderr.ToString());
    }

    [Fact]
    public void Binding_content_with_a_missing_tensor_names_it()
    {
        var content = SyntheticCompressed.Model();
        var broken = content with { Matrices = content.Matrices.Skip(1).ToList() };
        var e = Assert.Throws<ModelFormatException>(() => new CompressedModelWeights(broken, "x.cald"));
        Assert.Contains(content.Matrices[0].Name, e.Message);
    }
}
