using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Caldera.Generators;

/// <summary>A diagnostic as an equatable value (descriptor id, file, message arguments), made into a Roslyn <see cref="Diagnostic"/> only when reported.</summary>
internal sealed record DiagnosticInfo(string Id, string FilePath, EquatableArray<string> Arguments) : IEquatable<DiagnosticInfo>
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, string filePath, params string[] arguments) =>
        new(descriptor.Id, filePath, new EquatableArray<string>(arguments));

    public Diagnostic ToDiagnostic()
    {
        var location = Location.Create(FilePath, default, default(LinePositionSpan));
        var arguments = new object[Arguments.Count];
        for (int i = 0; i < arguments.Length; i++) arguments[i] = Arguments[i];
        return Diagnostic.Create(GeneratorDiagnostics.ById(Id), location, arguments);
    }
}
