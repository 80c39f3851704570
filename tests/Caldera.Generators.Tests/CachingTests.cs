using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Caldera.Generators.Tests;

/// <summary>The pipeline is incremental: rerunning, or editing unrelated code, leaves every step Cached or Unchanged.</summary>
public class CachingTests
{
    [Fact]
    public void Unrelated_edits_leave_every_step_cached_or_unchanged()
    {
        string description = File.ReadAllText(Path.Combine(TestPaths.Baselines, "Stories.model.json"));
        var compilation = GeneratorHarness.Compilation("namespace Host { internal static class A { } }");
        var driver = GeneratorHarness.Driver(("Stories.model.json", description), ("notes.txt", "not a model"));

        driver = driver.RunGenerators(compilation);
        driver = driver.RunGenerators(compilation);
        AssertAllCached(driver.GetRunResult());

        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Host { internal static class B { } }", GeneratorHarness.ParseOptions));
        driver = driver.RunGenerators(edited);
        AssertAllCached(driver.GetRunResult());
    }

    [Fact]
    public void A_changed_description_reruns_the_parser()
    {
        string description = File.ReadAllText(Path.Combine(TestPaths.Baselines, "Stories.model.json"));
        var compilation = GeneratorHarness.Compilation("namespace Host { }");
        var text = new GeneratorHarness.InMemoryText("Stories.model.json", description);
        var driver = GeneratorHarness.Driver(text).RunGenerators(compilation);
        var original = driver.GetRunResult().Results[0].TrackedSteps[TrackingNames.ModelSpecs][0].Outputs[0].Value;

        var changed = new GeneratorHarness.InMemoryText("Stories.model.json", description.Replace("\"StoryTeller\"", "\"Other\""));
        driver = driver.ReplaceAdditionalText(text, changed).RunGenerators(compilation);
        var step = driver.GetRunResult().Results[0].TrackedSteps[TrackingNames.ModelSpecs][0];
        Assert.Equal(IncrementalStepRunReason.Modified, step.Outputs[0].Reason);
        Assert.NotEqual(original, step.Outputs[0].Value);
    }

    private static void AssertAllCached(GeneratorDriverRunResult result)
    {
        var steps = result.Results[0].TrackedSteps;
        Assert.Contains(TrackingNames.DescriptionFiles, steps.Keys);
        Assert.Contains(TrackingNames.ModelSpecs, steps.Keys);
        foreach (string name in new[] { TrackingNames.DescriptionFiles, TrackingNames.ModelSpecs })
            foreach (var run in steps[name])
                foreach (var (_, reason) in run.Outputs)
                    Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"step {name} reported {reason}");
        foreach (var run in result.Results[0].TrackedOutputSteps.SelectMany(s => s.Value))
            foreach (var (_, reason) in run.Outputs)
                Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"an output step reported {reason}");
    }
}
