using System.CommandLine;
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
    private static readonly Argument<string> Model = CliOptions.Model("The compressed model (.cald) to describe.");
    private static readonly Option<string?> Name = CliOptions.Text("--name", "The C# class name of the model (required).", "Class");
    private static readonly Option<string?> Namespace = CliOptions.Text("--namespace", "The C# namespace of the class (required).", "Ns");
    private static readonly Option<string> Storage = CliOptions.Choice("--storage", "Where the build stores the model: an embedded resource or a trailer after the app.",
        Description.StorageKinds.Resource, Description.StorageKinds.Trailer);
    private static readonly Option<string?> ResourceName = CliOptions.Text("--resource-name", "The resource's logical name; default: Caldera.Models.<Class>.cald.", "name");
    private static readonly Option<string?> Output = CliOptions.Text("-o", "The description to write (required).", "Class.model.json");

    public static Command Create(CliContext cli)
    {
        var command = new Command("describe", "Write the model description the Caldera source generator reads (docs/build-integration.md).")
        {
            Model, Name, Namespace, Storage, ResourceName, Output,
        };
        command.SetAction(parsed => Execute(parsed, cli));
        return command;
    }

    private static int Execute(ParseResult parsed, CliContext cli)
    {
        string modelPath = parsed.GetValue(Model)!;
        string name = parsed.GetValue(Name) ?? throw new CliUsageException("describe: --name <class name> is required");
        if (!CSharpNames.IsIdentifier(name))
            throw new CliUsageException($"describe: --name '{name}' is not a C# identifier; use letters, digits and '_', starting with a letter (e.g. Stories)");
        string ns = parsed.GetValue(Namespace) ?? throw new CliUsageException("describe: --namespace <namespace> is required");
        if (!CSharpNames.IsNamespace(ns))
            throw new CliUsageException($"describe: --namespace '{ns}' is not a C# namespace; use identifiers joined by dots (e.g. StoryTeller.Models)");
        string storage = parsed.GetValue(Storage)!;
        string resourceName = parsed.GetValue(ResourceName) ?? $"Caldera.Models.{name}.cald";
        string output = parsed.GetValue(Output) ?? throw new CliUsageException("describe: -o <file.model.json> is required");
        using var file = CaldFile.Open(modelPath);
        byte[] json = Describe(file, name, ns, storage, resourceName);
        WriteAtomically(output, json);
        cli.Out.WriteLine($"described {file.Path} as {ns}.{name} ({storage}) in {output}");
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

    /// <summary>Through <see cref="AtomicFile"/>: a reader never sees half a file.</summary>
    internal static void WriteAtomically(string path, byte[] bytes, string what = "the model description")
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            AtomicFile.WriteAllBytes(path, bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot write {what} ({e.Message}); check that the folder is writable");
        }
    }
}
