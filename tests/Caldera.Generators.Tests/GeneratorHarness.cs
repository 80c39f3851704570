using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Caldera.Generators.Tests;

/// <summary>Runs <see cref="ModelGenerator"/> through Roslyn's <see cref="CSharpGeneratorDriver"/> on in-memory descriptions.</summary>
internal static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    /// <summary>Every assembly the test process can see: the framework, the runtime and its dependencies.</summary>
    public static ImmutableArray<MetadataReference> References { get; } =
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();

    public static CSharpCompilation Compilation(params string[] sources) => CSharpCompilation.Create("GeneratedModels",
        sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Source{i}.cs")),
        References,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable,
            optimizationLevel: OptimizationLevel.Release));

    public static GeneratorDriver Driver(params (string Path, string Text)[] descriptions) =>
        Driver(descriptions.Select(d => (AdditionalText)new InMemoryText(d.Path, d.Text)).ToArray());

    public static GeneratorDriver Driver(params AdditionalText[] texts) => CSharpGeneratorDriver.Create(
        [new ModelGenerator().AsSourceGenerator()],
        texts,
        ParseOptions,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Generates from <paramref name="descriptions"/>: the generated sources by hint name, the diagnostics, and the compilation with them.</summary>
    public static (Dictionary<string, string> Sources, ImmutableArray<Diagnostic> Diagnostics, Compilation Output) Run(params (string Path, string Text)[] descriptions)
    {
        var driver = Driver(descriptions).RunGeneratorsAndUpdateCompilation(Compilation("namespace Host { internal static class Empty { } }"), out var output, out _);
        var result = driver.GetRunResult();
        return (result.GeneratedTrees.ToDictionary(t => Path.GetFileName(t.FilePath), t => t.GetText().ToString()), result.Diagnostics, output);
    }

    public sealed class InMemoryText(string path, string text) : AdditionalText
    {
        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text, Encoding.UTF8);
    }
}
