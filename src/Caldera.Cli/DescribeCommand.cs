using System.CommandLine;
using System.Text;
using System.Text.Json;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;

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
    public const string Schema = "caldera.model-description/1";

    private static readonly Argument<string> Model = CliOptions.Model("The compressed model (.cald) to describe.");
    private static readonly Option<string?> Name = CliOptions.Path("--name", "The C# class name of the model (required).", "Class");
    private static readonly Option<string?> Namespace = CliOptions.Path("--namespace", "The C# namespace of the class (required).", "Ns");
    private static readonly Option<string> Storage = CliOptions.Choice("--storage", "Where the build stores the model: an embedded resource or a trailer after the app.", "resource", "trailer");
    private static readonly Option<string?> ResourceName = CliOptions.Path("--resource-name", "The resource's logical name; default: Caldera.Models.<Class>.cald.", "name");
    private static readonly Option<string?> Output = CliOptions.Path("-o", "The description to write (required).", "Class.model.json");

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
            w.WriteString("schema", Schema);
            w.WriteString("name", name);
            w.WriteString("namespace", ns);
            w.WriteString("storage", storage);
            w.WriteString("resourceName", resourceName);
            w.WriteString("fileName", $"{name}.cald");
            w.WriteNumber("fileLength", file.Length);
            w.WriteString("checksum", file.Checksum.ToString("x16"));
            var c = file.Content.Config;
            w.WriteStartObject("config");
            w.WriteNumber("dim", c.Dim);
            w.WriteNumber("hiddenDim", c.HiddenDim);
            w.WriteNumber("layers", c.LayerCount);
            w.WriteNumber("heads", c.HeadCount);
            w.WriteNumber("kvHeads", c.KvHeadCount);
            w.WriteNumber("headDim", c.HeadDim);
            w.WriteNumber("vocabSize", c.VocabSize);
            w.WriteNumber("contextLength", c.ContextLength);
            w.WriteBoolean("tiedClassifier", c.TiedClassifier);
            w.WriteEndObject();
            w.WriteStartArray("matrices");
            var order = TensorNames.Expected(c).Select((e, i) => (e.Name, i)).ToDictionary(e => e.Name, e => e.i, StringComparer.Ordinal);
            foreach (var m in file.Content.Matrices.OrderBy(m => order[m.Name]))
            {
                w.WriteStartObject();
                w.WriteString("name", m.Name);
                w.WriteNumber("rows", m.Rows);
                w.WriteNumber("columns", m.Columns);
                w.WriteString("q", m.QKind == QCodeKind.E8P ? "e8p" : "uniform");
                w.WriteNumber("qBits", m.QBits);
                w.WriteNumber("rank", m.Rank);
                w.WriteNumber("factorBits", m.FactorBits);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        buffer.Write("\n"u8);
        return buffer.ToArray();
    }

    /// <summary>A temporary file beside <paramref name="path"/>, then a rename: a reader never sees half a file.</summary>
    internal static void WriteAtomically(string path, byte[] bytes, string what = "the model description")
    {
        string full = Path.GetFullPath(path);
        string temp = $"{full}.{Environment.ProcessId}.tmp";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); }
            catch (IOException) { }
            throw new ModelFormatException(path, $"cannot write {what} ({e.Message}); check that the folder is writable");
        }
    }
}
