using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Caldera.Common;
using ConfigKeys = Caldera.Common.ModelDescriptionSchema.ConfigKeys;
using Description = Caldera.Common.ModelDescriptionSchema;
using MatrixKeys = Caldera.Common.ModelDescriptionSchema.MatrixKeys;
using QKinds = Caldera.Common.ModelDescriptionSchema.QKinds;
using StorageKinds = Caldera.Common.ModelDescriptionSchema.StorageKinds;

namespace Caldera.Generators;

/// <summary>
/// Reads one model description (<see cref="ModelDescriptionSchema"/>, docs/build-integration.md section 2) into a
/// <see cref="ModelSpec"/>: every key checked for presence, kind and range; names checked as C# identifiers; and each
/// distinct matrix shape sorted into "gets specialised kernels" or "runs the generic kernels, because …" (an Info).
/// </summary>
internal static class ModelParser
{
    /// <summary>Far above any real description (a line per matrix); keeps a stray file from being parsed at length.</summary>
    private const int MaxLength = 16 << 20;

    public static ParseResult Parse(string path, string? text)
    {
        try
        {
            if (text is null) throw new SchemaException("(file)", "could not be read");
            if (text.Length > MaxLength) throw new SchemaException("(file)", $"is {text.Length} characters, more than a description can be ({MaxLength})");
            var root = JsonReader.Parse(text);
            return Read(path, root);
        }
        catch (JsonSyntaxException e)
        {
            return Failed(DiagnosticInfo.Create(GeneratorDiagnostics.InvalidJson, path, path,
                e.Line.ToString(CultureInfo.InvariantCulture), e.Column.ToString(CultureInfo.InvariantCulture), e.Message));
        }
        catch (SchemaException e)
        {
            return Failed(DiagnosticInfo.Create(GeneratorDiagnostics.InvalidSchema, path, path, e.Key, e.Message));
        }
        catch (IdentifierException e)
        {
            return Failed(DiagnosticInfo.Create(GeneratorDiagnostics.InvalidIdentifier, path, path, e.Setting, e.Value, e.Kind));
        }
    }

    private static ParseResult Failed(DiagnosticInfo diagnostic) => new(null, new EquatableArray<DiagnosticInfo>(new[] { diagnostic }));

    private static ParseResult Read(string path, JsonValue root)
    {
        if (root.Kind != JsonKind.Object) throw new SchemaException("(root)", "must be a JSON object");
        string schema = String(root, Description.Schema);
        if (schema != Description.Id) throw new SchemaException(Description.Schema, $"is '{schema}', not '{Description.Id}'");
        string name = String(root, Description.Name);
        if (!CSharpNames.IsIdentifier(name)) throw new IdentifierException(Description.Name, name, "class name");
        string ns = String(root, Description.Namespace);
        if (!CSharpNames.IsNamespace(ns)) throw new IdentifierException(Description.Namespace, ns, "namespace");
        string storage = String(root, Description.Storage);
        if (storage != StorageKinds.Resource && storage != StorageKinds.Trailer)
            throw new SchemaException(Description.Storage, $"is '{storage}', not {StorageKinds.Resource} or {StorageKinds.Trailer}");
        string resourceName = String(root, Description.ResourceName);
        string fileName = String(root, Description.FileName);
        long fileLength = Long(root, Description.FileLength, 1, long.MaxValue);
        string checksumText = String(root, Description.Checksum);
        if (checksumText.Length != 16 || !ulong.TryParse(checksumText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong checksum))
            throw new SchemaException(Description.Checksum, $"is '{checksumText}', not 16 hex digits");

        var c = Member(root, Description.Config, JsonKind.Object);
        int Setting(string key) => Int(c, $"{Description.Config}.{key}", key);
        var config = new ConfigSpec(Setting(ConfigKeys.Dim), Setting(ConfigKeys.HiddenDim), Setting(ConfigKeys.Layers), Setting(ConfigKeys.Heads),
            Setting(ConfigKeys.KvHeads), Setting(ConfigKeys.HeadDim), Setting(ConfigKeys.VocabSize), Setting(ConfigKeys.ContextLength),
            Bool(c, $"{Description.Config}.{ConfigKeys.TiedClassifier}", ConfigKeys.TiedClassifier));

        var matrices = new List<MatrixSpec>();
        var items = Member(root, Description.Matrices, JsonKind.Array).Items;
        for (int i = 0; i < items.Count; i++)
        {
            var m = items[i];
            string at = $"{Description.Matrices}[{i}]";
            if (m.Kind != JsonKind.Object) throw new SchemaException(at, "must be an object");
            int Dimension(string key, int min = 1) => Int(m, $"{at}.{key}", key, min);
            var matrix = new MatrixSpec(String(m, $"{at}.{MatrixKeys.Name}", MatrixKeys.Name), Dimension(MatrixKeys.Rows), Dimension(MatrixKeys.Columns),
                String(m, $"{at}.{MatrixKeys.Q}", MatrixKeys.Q), Dimension(MatrixKeys.QBits), Dimension(MatrixKeys.Rank, min: 0), Dimension(MatrixKeys.FactorBits));
            if (matrix.Q != QKinds.E8P && matrix.Q != QKinds.Uniform)
                throw new SchemaException($"{at}.{MatrixKeys.Q}", $"is '{matrix.Q}', not {QKinds.E8P} or {QKinds.Uniform}");
            if (matrices.Any(x => x.Name == matrix.Name)) throw new SchemaException($"{at}.{MatrixKeys.Name}", $"'{matrix.Name}' appears twice");
            matrices.Add(matrix);
        }

        var (kernels, diagnostics) = Kernels(path, name, matrices);
        var spec = new ModelSpec(name, ns, storage, resourceName, fileName, fileLength, checksum, config,
            new EquatableArray<MatrixSpec>(matrices.ToArray()), new EquatableArray<KernelShape>(kernels));
        return new ParseResult(spec, new EquatableArray<DiagnosticInfo>(diagnostics));
    }

    /// <summary>
    /// The distinct shapes, in order of first appearance: specialised when Q is E8P, the factors are 4-bit lattice
    /// codes and the column count is a multiple of 8 (a code vector then never straddles the end of a row);
    /// otherwise an Info saying why the generic kernels run.
    /// </summary>
    private static (KernelShape[] Kernels, DiagnosticInfo[] Diagnostics) Kernels(string path, string name, List<MatrixSpec> matrices)
    {
        var kernels = new List<KernelShape>();
        var diagnostics = new List<DiagnosticInfo>();
        foreach (var group in matrices.GroupBy(m => (m.Rows, m.Columns, m.Rank, m.Q, m.FactorBits)))
        {
            var (rows, columns, rank, q, factorBits) = group.Key;
            string? reason = q != QKinds.E8P ? $"Q is a {group.First().QBits}-bit uniform code, which has no code-vector kernel"
                : rank > 0 && factorBits != 4 ? $"the factors are {factorBits}-bit, which the decode step does not read through row kernels"
                : columns % 8 != 0 ? $"{columns} columns are not a multiple of 8, so the last code vector of each row is partial"
                : columns / 8 > ModelEmitter.MaxBlockSumVectors ? $"{columns} columns are more than the {8 * ModelEmitter.MaxBlockSumVectors} whose block sums the row kernels keep on the stack"
                : null;
            if (reason is null) kernels.Add(new KernelShape(rows, columns, rank));
            else
                diagnostics.Add(DiagnosticInfo.Create(GeneratorDiagnostics.GenericKernels, path, path, name,
                    group.Count().ToString(CultureInfo.InvariantCulture), rows.ToString(CultureInfo.InvariantCulture),
                    columns.ToString(CultureInfo.InvariantCulture), rank.ToString(CultureInfo.InvariantCulture), reason));
        }
        return (kernels.Distinct().ToArray(), diagnostics.ToArray());
    }

    private static JsonValue Member(JsonValue parent, string key, JsonKind kind, string? shown = null)
    {
        var value = parent.Property(key) ?? throw new SchemaException(shown ?? key, "is missing");
        bool matches = value.Kind == kind || (kind == JsonKind.True && value.Kind == JsonKind.False);
        if (!matches) throw new SchemaException(shown ?? key, $"must be {Describe(kind)}, not {Describe(value.Kind)}");
        return value;
    }

    private static string String(JsonValue parent, string shown, string? key = null) => Member(parent, key ?? shown, JsonKind.String, shown).Text;

    private static bool Bool(JsonValue parent, string shown, string key) => Member(parent, key, JsonKind.True, shown).Kind == JsonKind.True;

    /// <summary>An int setting; 2^24 bounds every dimension of a real model and keeps the emitted constants small.</summary>
    private static int Int(JsonValue parent, string shown, string key, int min = 1) => (int)Long(parent, shown, key, min, 1 << 24);

    private static long Long(JsonValue parent, string key, long min, long max) => Long(parent, key, key, min, max);

    private static long Long(JsonValue parent, string shown, string key, long min, long max)
    {
        string text = Member(parent, key, JsonKind.Number, shown).Text;
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) || value < min || value > max)
            throw new SchemaException(shown, $"is {text}, not a whole number in {min}..{max}");
        return value;
    }

    private static string Describe(JsonKind kind) => kind switch
    {
        JsonKind.Object => "an object",
        JsonKind.Array => "an array",
        JsonKind.String => "a string",
        JsonKind.Number => "a number",
        JsonKind.True or JsonKind.False => "true or false",
        _ => "null",
    };

    private sealed class SchemaException(string key, string problem) : Exception(problem)
    {
        public string Key { get; } = key;
    }

    private sealed class IdentifierException(string setting, string value, string kind) : Exception(value)
    {
        public string Setting { get; } = setting;
        public string Value { get; } = value;
        public string Kind { get; } = kind;
    }
}
