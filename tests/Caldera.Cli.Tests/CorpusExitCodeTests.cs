using System.Globalization;
using Caldera.Cli;
using Caldera.Fuzz;

namespace Caldera.Cli.Tests;

/// <summary>
/// The CLI's invariant: whatever file it is given, a verb exits 0 (it worked) or 2 (bad input, with a message);
/// exit code 1 means an exception escaped that is not a documented bad-input error, which is a bug. Every verb that
/// reads a file runs against the fuzzer's corpus (fuzz/corpus/), the inputs that reach the deepest corners of the readers.
/// </summary>
public sealed class CorpusExitCodeTests : IDisposable
{
    /// <summary>Each command is in-process and takes milliseconds (a compression of the dim-8 model under a second).</summary>
    private static readonly TimeSpan PerCommand = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Readers() => new(FuzzTargets.Readers);

    [Theory]
    [MemberData(nameof(Readers))]
    public async Task Every_verb_on_every_corpus_input_exits_0_or_2(string reader)
    {
        string[] inputs = Directory.GetFiles(Path.Combine(TestModels.RepoRoot, "fuzz", "corpus", reader));
        Assert.NotEmpty(inputs);
        string text = _dir.File("text.txt");
        File.WriteAllText(text, "Once upon a time, a b c d e. " + string.Concat(Enumerable.Repeat("a b ", 40)));
        var failures = new List<string>();
        for (int i = 0; i < inputs.Length; i++)
        {
            string folder = Directory.CreateDirectory(Path.Combine(_dir.Path, i.ToString(CultureInfo.InvariantCulture))).FullName;
            foreach (string[] command in Commands(reader, inputs[i], folder, text))
            {
                var stderr = new StringWriter();
                int code;
                try
                {
                    code = await Task.Run(() => CalderaCli.Run(command, TextWriter.Null, stderr)).WaitAsync(PerCommand);
                }
                catch (TimeoutException)
                {
                    failures.Add($"{Path.GetFileName(inputs[i])}: caldera {command[0]} still running after {PerCommand.TotalSeconds} s");
                    continue;
                }
                if (code is not (0 or 2))
                    failures.Add($"{Path.GetFileName(inputs[i])}: caldera {string.Join(' ', command)} exited {code}: {stderr.ToString().Trim()}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} commands broke the invariant:\n{string.Join("\n", failures)}");
    }

    /// <summary>The commands that read <paramref name="input"/> as <paramref name="reader"/>'s kind of file.</summary>
    private static IEnumerable<string[]> Commands(string reader, string input, string folder, string text)
    {
        string output = Path.Combine(folder, "out.cald");
        string[] compress = ["--samples", "1", "--seq-len", "4", "--threads", "1", "--rank", "1"];
        string[] run = ["--prompt", "a b", "--steps", "3", "--threads", "1"];
        string[] eval = ["--text", text, "--ctx", "4", "--threads", "1"];
        if (reader == "tokenizer")
        {
            // A fitting tokenizer file is one of ≤ 512 tokens; stories260K has a 512-token vocabulary.
            string tokenizer = Copy(input, folder, "tokenizer.model");
            yield return ["run", TestModels.Stories260KBin, "--tokenizer", tokenizer, .. run];
            yield return ["eval", TestModels.Stories260KBin, "--tokenizer", tokenizer, .. eval];
            yield break;
        }
        string model = reader switch
        {
            // As the fuzzer does, the checksum is made to match, so that the manifest reader sees the input.
            "cald" => Write(FuzzTargets.WithValidChecksum(File.ReadAllBytes(input)), folder, "model.cald"),
            "gguf" => Copy(input, folder, "model.gguf"),
            "llama2c" => Copy(input, folder, "model.bin"),
            _ => HfDirectory(input, folder),
        };
        yield return ["inspect", model];
        yield return ["run", model, .. run];
        yield return ["eval", model, .. eval];
        if (reader == "cald")
            yield return ["describe", model, "--name", "Fuzzed", "--namespace", "Corpus", "-o", Path.Combine(folder, "m.model.json")];
        else
            yield return ["compress", model, "-o", output, .. compress];
    }

    private static string Write(byte[] bytes, string folder, string name)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string Copy(string input, string folder, string name)
    {
        string path = Path.Combine(folder, name);
        File.Copy(input, path);
        return path;
    }

    private static string HfDirectory(string input, string folder)
    {
        string directory = Directory.CreateDirectory(Path.Combine(folder, "hf")).FullName;
        File.WriteAllText(Path.Combine(directory, "config.json"), FuzzTargets.SafetensorsConfig);
        File.Copy(input, Path.Combine(directory, "model.safetensors"));
        return directory;
    }
}
