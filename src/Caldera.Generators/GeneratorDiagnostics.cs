using System;
using Caldera.Common;
using Microsoft.CodeAnalysis;

namespace Caldera.Generators;

/// <summary>The generator's diagnostics. Ids are stable (CALDG0xx, docs/build-integration.md); each message says what to change.</summary>
internal static class GeneratorDiagnostics
{
    private const string Category = "Caldera.Generators";

    public static readonly DiagnosticDescriptor InvalidJson = new(
        "CALDG001", "Model description is not valid JSON",
        "{0}: not valid JSON at line {1}, column {2}: {3}; regenerate it with caldera describe (a clean rebuild does)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidSchema = new(
        "CALDG002", "Model description does not follow its schema",
        "{0}: '{1}' {2}; the file must be a " + ModelDescriptionSchema.Id + " written by a matching caldera describe (update Caldera.Build or rebuild)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidIdentifier = new(
        "CALDG003", "Model name is not a C# identifier",
        "{0}: {1} '{2}' is not a valid C# {3}; change the Name or Namespace metadata of the <CalderaModel> item",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor GenericKernels = new(
        "CALDG010", "Matrix shape runs the generic kernels",
        "{0}: model {1}: the {2} matrices of shape {3}×{4} (rank {5}) run the generic runtime kernels: {6}",
        Category, DiagnosticSeverity.Info, isEnabledByDefault: true);

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "CALDG001" => InvalidJson,
        "CALDG002" => InvalidSchema,
        "CALDG003" => InvalidIdentifier,
        "CALDG010" => GenericKernels,
        _ => throw new ArgumentException($"unknown diagnostic {id}", nameof(id)),
    };
}
