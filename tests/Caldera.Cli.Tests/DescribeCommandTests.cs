using System.Text.Json;
using Caldera.Cli;
using Caldera.Runtime.Formats;
using Description = Caldera.Common.ModelDescriptionSchema;

namespace Caldera.Cli.Tests;

/// <summary>`caldera describe`: the model description of docs/build-integration.md, deterministic, written atomically; bad names exit 2.</summary>
public class DescribeCommandTests
{
    [Fact]
    public void Describe_writes_the_contract_description_of_a_cald()
    {
        using var dir = new TempDirectory();
        string output = dir.File("obj/Stories.model.json");
        var (code, stderr) = Run(["describe", CompressedStories.Path, "--name", "Stories", "--namespace", "StoryTeller", "-o", output]);
        Assert.True(code == 0, stderr);

        using var file = CaldFile.Open(CompressedStories.Path);
        using var json = JsonDocument.Parse(File.ReadAllBytes(output));
        var root = json.RootElement;
        Assert.Equal([Description.Schema, Description.Name, Description.Namespace, Description.Storage, Description.ResourceName, Description.FileName,
            Description.FileLength, Description.Checksum, Description.Config, Description.Matrices],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Description.Id, root.GetProperty(Description.Schema).GetString());
        Assert.Equal(Description.StorageKinds.Resource, root.GetProperty(Description.Storage).GetString());
        Assert.Equal("Caldera.Models.Stories.cald", root.GetProperty(Description.ResourceName).GetString());
        Assert.Equal("Stories.cald", root.GetProperty(Description.FileName).GetString());
        Assert.Equal(file.Length, root.GetProperty(Description.FileLength).GetInt64());
        Assert.Equal(file.Checksum.ToString("x16"), root.GetProperty(Description.Checksum).GetString());
        var config = root.GetProperty(Description.Config);
        Assert.Equal(64, config.GetProperty(Description.ConfigKeys.Dim).GetInt32());
        Assert.Equal(172, config.GetProperty(Description.ConfigKeys.HiddenDim).GetInt32());
        Assert.Equal(4, config.GetProperty(Description.ConfigKeys.KvHeads).GetInt32());
        Assert.True(config.GetProperty(Description.ConfigKeys.TiedClassifier).GetBoolean());
        var matrices = root.GetProperty(Description.Matrices).EnumerateArray().ToList();
        Assert.Equal(35, matrices.Count);
        Assert.Equal("blk.0.attn_q.weight", matrices[0].GetProperty(Description.MatrixKeys.Name).GetString());
        var down = matrices.Single(m => m.GetProperty(Description.MatrixKeys.Name).GetString() == "blk.4.ffn_down.weight");
        Assert.Equal((64, 172, Description.QKinds.E8P, 2, 16, 4), (down.GetProperty(Description.MatrixKeys.Rows).GetInt32(), down.GetProperty(Description.MatrixKeys.Columns).GetInt32(),
            down.GetProperty(Description.MatrixKeys.Q).GetString(), down.GetProperty(Description.MatrixKeys.QBits).GetInt32(), down.GetProperty(Description.MatrixKeys.Rank).GetInt32(), down.GetProperty(Description.MatrixKeys.FactorBits).GetInt32()));
        Assert.Equal([output], Directory.GetFiles(Path.GetDirectoryName(output)!));
    }

    [Fact]
    public void Describing_twice_gives_identical_bytes()
    {
        using var dir = new TempDirectory();
        string[] args = ["describe", CompressedStories.Path, "--name", "Stories", "--namespace", "A.B", "--storage", "trailer", "--resource-name", "R.cald", "-o"];
        Assert.Equal(0, Run([.. args, dir.File("1.json")]).Code);
        Assert.Equal(0, Run([.. args, dir.File("2.json")]).Code);
        byte[] first = File.ReadAllBytes(dir.File("1.json"));
        Assert.Equal(first, File.ReadAllBytes(dir.File("2.json")));
        Assert.Contains("\"storage\": \"trailer\"", System.Text.Encoding.UTF8.GetString(first));
        Assert.DoesNotContain("\r", System.Text.Encoding.UTF8.GetString(first));
    }

    [Theory]
    [InlineData("--name", "3D", "--name '3D' is not a C# identifier")]
    [InlineData("--name", "class", "--name 'class' is not a C# identifier")]
    [InlineData("--name", "my-model", "--name 'my-model' is not a C# identifier")]
    [InlineData("--namespace", "Story..Teller", "--namespace 'Story..Teller' is not a C# namespace")]
    [InlineData("--namespace", "Story Teller", "--namespace 'Story Teller' is not a C# namespace")]
    [InlineData("--storage", "disk", "--storage 'disk' is not one of resource, trailer")]
    public void Bad_settings_exit_2_saying_what_to_change(string option, string value, string message)
    {
        using var dir = new TempDirectory();
        var settings = new Dictionary<string, string> { ["--name"] = "Stories", ["--namespace"] = "StoryTeller", ["--storage"] = "resource" };
        settings[option] = value;
        string output = dir.File("out.json");
        var (code, stderr) = Run(["describe", CompressedStories.Path, .. settings.SelectMany(s => new[] { s.Key, s.Value }), "-o", output]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void A_corrupt_cald_exits_2_naming_it()
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.cald");
        byte[] bytes = CompressedStories.Bytes;
        bytes[^10] ^= 1;
        File.WriteAllBytes(path, bytes);
        var (code, stderr) = Run(["describe", path, "--name", "S", "--namespace", "N", "-o", dir.File("o.json")]);
        Assert.Equal(2, code);
        Assert.Contains($"{path}: checksum mismatch", stderr);
    }

    private static (int Code, string Stderr) Run(string[] args)
    {
        var stderr = new StringWriter();
        int code = CalderaCli.Run(args, TextWriter.Null, stderr);
        return (code, stderr.ToString());
    }
}
