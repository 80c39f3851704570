using System.Text;
using System.Text.Json;
using Caldera.Common;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;
using Description = Caldera.Common.ModelDescriptionSchema;

namespace Caldera.Cli;

/// <summary>
/// <c>caldera describe &lt;model.cald&gt; --name N --namespace NS [--storage resource|trailer] [--resource-name R] -o F</c>:
/// writes the model description the source generator reads (docs/build-integration.md, section 2): where the
/// build stores the model, its length and checksum, the architecture and every compressed matrix's shape. Keys
/// come in a fixed order and matrices in the architecture's order, so the same model gives the same bytes and
/// an incremental build sees no change; the file is written to a temporary name and moved into place.
/// </summary>
internal static class DescribeCommand
{
    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var line = new CommandLine("describe", args, ["--name", "--namespace", "--storage", "--resource-name", "-o"]);
        string modelPath = line.Single("model (.cald file)");
        string name = line.String("--name") ?? throw new CliUsageException("describe: --name <class name> is required");
        if (!CSharpNames.IsIdentifier(name))
            throw new CliUsageException($"describe: --name '{name}' is not a C# identifier; use letters, digits and '_', starting with a letter (e.g. Stories)");
        string ns = line.String("--namespace") ?? throw new CliUsageException("describe: --namespace <namespace> is required");
        if (!CSharpNames.IsNamespace(ns))
            throw new CliUsageException($"describe: --namespace '{ns}' is not a C# namespace; use identifiers joined by dots (e.g. StoryTeller.Models)");
        string storage = line.Choice("--storage", Description.StorageKinds.Resource, Description.StorageKinds.Resource, Description.StorageKinds.Trailer);
        string resourceName = line.String("--resource-name") ?? $"Caldera.Models.{name}.cald";
        string output = line.String("-o") ?? throw new CliUsageException("describe: -o <file.model.json> is required");

        using var file = CaldFile.Open(modelPath);
        byte[] json = Describe(file, name, ns, storage, resourceName);
        WriteAtomically(output, json);
        stdout.WriteLine($"described {file.Path} as {ns}.{name} ({storage}) in {output}");
        return 0;
    }

    internal static byte[] Describe(CaldFile file, string name, string ns, string storage, string resourceName)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n" }))
        {
            w.WriteStartObject();
            w.WriteString(Description.Schema, Description.Id);
            w.WriteString(Description.Name, name);
            w.WriteString(Description.Namespace, ns);
            w.WriteString(Description.Storage, storage);
            w.WriteString(Description.ResourceName, resourceName);
            w.WriteString(Description.FileName, $"{name}.cald");
            w.WriteNumber(Description.FileLength, file.Length);
            w.WriteString(Description.Checksum, file.Checksum.ToString("x16"));
            var c = file.Content.Config;
            w.WriteStartObject(Description.Config);
            w.WriteNumber(Description.ConfigKeys.Dim, c.Dim);
            w.WriteNumber(Description.ConfigKeys.HiddenDim, c.HiddenDim);
            w.WriteNumber(Description.ConfigKeys.Layers, c.LayerCount);
            w.WriteNumber(Description.ConfigKeys.Heads, c.HeadCount);
            w.WriteNumber(Description.ConfigKeys.KvHeads, c.KvHeadCount);
            w.WriteNumber(Description.ConfigKeys.HeadDim, c.HeadDim);
            w.WriteNumber(Description.ConfigKeys.VocabSize, c.VocabSize);
            w.WriteNumber(Description.ConfigKeys.ContextLength, c.ContextLength);
            w.WriteBoolean(Description.ConfigKeys.TiedClassifier, c.TiedClassifier);
            w.WriteEndObject();
            w.WriteStartArray(Description.Matrices);
            var order = TensorNames.Expected(c).Select((e, i) => (e.Name, i)).ToDictionary(e => e.Name, e => e.i, StringComparer.Ordinal);
            foreach (var m in file.Content.Matrices.OrderBy(m => order[m.Name]))
            {
                w.WriteStartObject();
                w.WriteString(Description.MatrixKeys.Name, m.Name);
                w.WriteNumber(Description.MatrixKeys.Rows, m.Rows);
                w.WriteNumber(Description.MatrixKeys.Columns, m.Columns);
                w.WriteString(Description.MatrixKeys.Q, CaldNames.QKind(m.QKind));
                w.WriteNumber(Description.MatrixKeys.QBits, m.QBits);
                w.WriteNumber(Description.MatrixKeys.Rank, m.Rank);
                w.WriteNumber(Description.MatrixKeys.FactorBits, m.FactorBits);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        buffer.Write("\n"u8);
        return buffer.ToArray();
    }

    /// <summary>Through <see cref="AtomicFile"/>: a reader never sees half a description.</summary>
    private static void WriteAtomically(string path, byte[] bytes)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            AtomicFile.WriteAllBytes(path, bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot write the model description ({e.Message}); check that the folder is writable");
        }
    }
}
