namespace Caldera.Generators.Tests;

/// <summary>
/// The generated source for the stories260K description is pinned by a checked-in baseline: a missing or different
/// baseline fails. CALDERA_UPDATE_BASELINES=1 rewrites the baseline for a developer, and the test still fails that run.
/// </summary>
public class BaselineTests
{
    [Fact]
    public void Stories260K_generated_source_matches_its_baseline()
    {
        string description = File.ReadAllText(Path.Combine(TestPaths.Baselines, "Stories.model.json"));
        var (sources, diagnostics, output) = GeneratorHarness.Run(("obj/Release/caldera/Stories.model.json", description));

        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= Microsoft.CodeAnalysis.DiagnosticSeverity.Warning));
        Assert.Equal(["Stories.g.cs"], sources.Keys);
        Assert.Equal(["CALDG010"], diagnostics.Select(d => d.Id));
        AssertBaseline("Stories.g.cs", sources["Stories.g.cs"]);
    }

    private static void AssertBaseline(string name, string actual)
    {
        string path = Path.Combine(TestPaths.Baselines, name);
        if (Environment.GetEnvironmentVariable("CALDERA_UPDATE_BASELINES") == "1")
        {
            File.WriteAllText(path, actual);
            Assert.Fail($"{path} was rewritten (CALDERA_UPDATE_BASELINES=1); review the diff, commit it and run the tests again without the variable");
        }
        Assert.True(File.Exists(path), $"baseline {path} is missing; run the tests once with CALDERA_UPDATE_BASELINES=1 to create it, then review and commit it");
        string expected = File.ReadAllText(path);
        if (expected == actual) return;
        var expectedLines = expected.Split('\n');
        var actualLines = actual.Split('\n');
        int line = Enumerable.Range(0, Math.Min(expectedLines.Length, actualLines.Length)).FirstOrDefault(i => expectedLines[i] != actualLines[i], Math.Min(expectedLines.Length, actualLines.Length));
        Assert.Fail($"generated {name} differs from {path} at line {line + 1}:\n  baseline:  {expectedLines.ElementAtOrDefault(line)}\n  generated: {actualLines.ElementAtOrDefault(line)}\n" +
            "If the change is intended, run the tests with CALDERA_UPDATE_BASELINES=1, review the diff and commit it.");
    }
}
