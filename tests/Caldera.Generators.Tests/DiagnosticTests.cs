using Microsoft.CodeAnalysis;

namespace Caldera.Generators.Tests;

/// <summary>Every generator diagnostic, one test each: a bad description is an Error naming the file and what to change; an unspecialisable shape an Info saying why.</summary>
public class DiagnosticTests
{
    private static readonly string Stories = File.ReadAllText(Path.Combine(TestPaths.Baselines, "Stories.model.json"));

    [Fact]
    public void CALDG001_unparsable_json_names_the_file_line_and_column()
    {
        var (sources, diagnostics, _) = GeneratorHarness.Run(("m/Broken.model.json", "{\n  \"schema\": \"caldera.model-description/2\",\n  \"name\": Stories\n}"));
        var d = Assert.Single(diagnostics);
        Assert.Equal(("CALDG001", DiagnosticSeverity.Error), (d.Id, d.Severity));
        Assert.Equal("m/Broken.model.json: not valid JSON at line 3, column 11: unexpected character 'S'; regenerate it with caldera describe (a clean rebuild does)", d.GetMessage());
        Assert.Equal("m/Broken.model.json", d.Location.GetLineSpan().Path);
        Assert.Empty(sources);
    }

    [Theory]
    [InlineData("\"caldera.model-description/2\"", "\"caldera.model-description/3\"", "'schema' is 'caldera.model-description/3', not 'caldera.model-description/2'")]
    [InlineData("\"file_length\"", "\"length\"", "'file_length' is missing")]
    [InlineData("\"f8a5e7023b9cf55c\"", "\"xyz\"", "'checksum' is 'xyz', not 16 hex digits")]
    [InlineData("\"dim\": 64", "\"dim\": \"64\"", "'config.dim' must be a number, not a string")]
    [InlineData("\"rows\": 64", "\"rows\": -1", "'matrices[0].rows' is -1, not a whole number in 1..16777216")]
    [InlineData("\"storage\": \"resource\"", "\"storage\": \"disk\"", "'storage' is 'disk', not resource or trailer")]
    public void CALDG002_schema_violations_name_the_key(string find, string replace, string message)
    {
        Assert.Contains(find, Stories);
        var (sources, diagnostics, _) = GeneratorHarness.Run(("Stories.model.json", ReplaceFirst(Stories, find, replace)));
        var d = Assert.Single(diagnostics);
        Assert.Equal(("CALDG002", DiagnosticSeverity.Error), (d.Id, d.Severity));
        Assert.StartsWith($"Stories.model.json: {message}; ", d.GetMessage());
        Assert.Empty(sources);
    }

    [Theory]
    [InlineData("\"name\": \"Stories\"", "\"name\": \"class\"", "name 'class' is not a valid C# class name")]
    [InlineData("\"name\": \"Stories\"", "\"name\": \"My-Model\"", "name 'My-Model' is not a valid C# class name")]
    [InlineData("\"StoryTeller\"", "\"Story..Teller\"", "namespace 'Story..Teller' is not a valid C# namespace")]
    public void CALDG003_bad_identifiers_say_which_metadata_to_change(string find, string replace, string message)
    {
        var (sources, diagnostics, _) = GeneratorHarness.Run(("Stories.model.json", ReplaceFirst(Stories, find, replace)));
        var d = Assert.Single(diagnostics);
        Assert.Equal(("CALDG003", DiagnosticSeverity.Error), (d.Id, d.Severity));
        Assert.Equal($"Stories.model.json: {message}; change the Name or Namespace metadata of the <CalderaModel> item", d.GetMessage());
        Assert.Empty(sources);
    }

    [Fact]
    public void CALDG010_says_why_a_shape_runs_the_generic_kernels()
    {
        string uniform = ReplaceFirst(ReplaceFirst(Stories, "\"q\": \"e8p\",\n      \"q_bits\": 2", "\"q\": \"uniform\",\n      \"q_bits\": 3"), "\"factor_bits\": 4", "\"factor_bits\": 4");
        string halves = Stories.Replace("\"name\": \"blk.0.attn_k.weight\",\n      \"rows\": 32,\n      \"columns\": 64,\n      \"q\": \"e8p\",\n      \"q_bits\": 2,\n      \"rank\": 16,\n      \"factor_bits\": 4",
            "\"name\": \"blk.0.attn_k.weight\",\n      \"rows\": 32,\n      \"columns\": 64,\n      \"q\": \"e8p\",\n      \"q_bits\": 2,\n      \"rank\": 16,\n      \"factor_bits\": 16");
        Assert.NotEqual(Stories, halves);

        var messages = new[] { Stories, uniform, halves }
            .Select(text => GeneratorHarness.Run(("Stories.model.json", text)))
            .SelectMany(r => r.Diagnostics)
            .Select(d =>
            {
                Assert.Equal(("CALDG010", DiagnosticSeverity.Info), (d.Id, d.Severity));
                return d.GetMessage();
            })
            .Distinct()
            .ToList();
        Assert.Contains("Stories.model.json: model Stories: the 5 matrices of shape 64×172 (rank 16) run the generic runtime kernels: 172 columns are not a multiple of 8, so the last code vector of each row is partial", messages);
        Assert.Contains("Stories.model.json: model Stories: the 1 matrices of shape 64×64 (rank 16) run the generic runtime kernels: Q is a 3-bit uniform code, which has no code-vector kernel", messages);
        Assert.Contains("Stories.model.json: model Stories: the 1 matrices of shape 32×64 (rank 16) run the generic runtime kernels: the factors are 16-bit, which the decode step does not read through row kernels", messages);
    }

    [Fact]
    public void Only_model_descriptions_are_read()
    {
        var (sources, diagnostics, _) = GeneratorHarness.Run(("appsettings.json", "{ not json"), ("Stories.model.json", Stories));
        Assert.Equal(["Stories.g.cs"], sources.Keys);
        Assert.All(diagnostics, d => Assert.Equal("CALDG010", d.Id));
    }

    private static string ReplaceFirst(string text, string find, string replace)
    {
        int at = text.IndexOf(find, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{find}' not found");
        return text[..at] + replace + text[(at + find.Length)..];
    }
}
