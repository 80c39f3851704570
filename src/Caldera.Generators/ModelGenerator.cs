using System;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Caldera.Generators;

/// <summary>
/// Turns each <c>&lt;Name&gt;.model.json</c> AdditionalFiles item into <c>&lt;Name&gt;.g.cs</c>: a typed class
/// deriving from <c>Caldera.CalderaModel</c> with the architecture as constants, a loader, and
/// row kernels specialised for each distinct matrix shape. Pipeline: file filter → <see cref="ModelParser"/>
/// (equatable <see cref="ParseResult"/>) → <see cref="ModelEmitter"/>. Steps carry <see cref="TrackingNames"/>
/// so tests can check that an unrelated edit leaves them cached.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModelGenerator : IIncrementalGenerator
{
    public const string DescriptionSuffix = ".model.json";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var descriptions = context.AdditionalTextsProvider
            .Where(static text => text.Path.EndsWith(DescriptionSuffix, StringComparison.OrdinalIgnoreCase))
            .WithTrackingName(TrackingNames.DescriptionFiles)
            .Select(static (text, cancellationToken) => ModelParser.Parse(text.Path, text.GetText(cancellationToken)?.ToString()))
            .WithTrackingName(TrackingNames.ModelSpecs);

        context.RegisterSourceOutput(descriptions, static (output, result) =>
        {
            foreach (var diagnostic in result.Diagnostics) output.ReportDiagnostic(diagnostic.ToDiagnostic());
            if (result.Spec is { } spec)
                output.AddSource($"{spec.Name}.g.cs", SourceText.From(ModelEmitter.Emit(spec), Encoding.UTF8));
        });
    }
}

/// <summary>Names of the pipeline steps, for incremental-caching tests.</summary>
public static class TrackingNames
{
    public const string DescriptionFiles = "CalderaModelDescriptionFiles";
    public const string ModelSpecs = "CalderaModelSpecs";
}
