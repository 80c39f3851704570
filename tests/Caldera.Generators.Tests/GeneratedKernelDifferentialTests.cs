using System.Reflection;
using System.Runtime.Loader;
using Caldera.Cli;
using Caldera.CompilerServices;
using Caldera.Runtime.Hosting;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Sampling;
using Microsoft.CodeAnalysis;

namespace Caldera.Generators.Tests;

/// <summary>
/// End to end without MSBuild: stories260K compressed (rank 16, fast preset) and described by the CLI, the generator
/// run on the description, the generated class compiled in memory with the .cald as its embedded resource, loaded in a
/// collectible context, and its generated kernels compared with the generic runtime kernels logit by logit.
/// </summary>
public sealed class GeneratedKernelDifferentialTests : IDisposable
{
    /// <summary>
    /// The bound on every logit, absolute. The generated kernels decode the same weights and sum in the generic
    /// kernels' order (same accumulators, same pairing), so on one machine they agree bit for bit; the bound leaves room
    /// only for a JIT that contracts or reorders differently in the two methods.
    /// </summary>
    private const float LogitTolerance = 1e-5f;

    /// <summary>stories260K's matrices with generated kernels: q, k, v, o, gate and up of its 5 blocks (ffn_down has 172 columns).</summary>
    private const int SpecialisedMatrices = 30;

    private const int PromptAndDecodeTokens = 32;

    private readonly string _dir = Directory.CreateTempSubdirectory("caldera-generated-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public void Generated_kernels_give_the_generic_kernels_logits_and_greedy_text()
    {
        string cald = Path.Combine(_dir, "Stories.cald"), json = Path.Combine(_dir, "Stories.model.json");
        var log = new StringWriter();
        Assert.True(CalderaCli.Run(["compress", TestPaths.Stories260KBin, "--tokenizer", TestPaths.Tok512Model, "-o", cald,
            "--rank", "16", "--preset", "fast", "--samples", "16", "--seq-len", "64", "--threads", "2"], log, log) == 0, log.ToString());
        Assert.True(CalderaCli.Run(["describe", cald, "--name", "Stories", "--namespace", "StoryTeller", "-o", json], log, log) == 0, log.ToString());

        var (sources, diagnostics, output) = GeneratorHarness.Run((json, File.ReadAllText(json)));
        Assert.All(diagnostics, d => Assert.Equal(DiagnosticSeverity.Info, d.Severity));
        var context = new AssemblyLoadContext("generated-model", isCollectible: true);
        try
        {
            var type = Compile(output, context, cald).GetType("StoryTeller.Stories")!;
            Assert.Equal(64, (int)type.GetField("Dim")!.GetRawConstantValue()!);
            var load = type.GetMethod("Load", BindingFlags.Public | BindingFlags.Static)!;
            // No ModelPath: the class reads its own embedded resource, as an app built with <CalderaModel> does.
            // Float arithmetic: its decode step calls each matrix's bound kernels for Q, R and L, so a bound generated
            // kernel is one that runs. (The generated classes implement no integer kernels: with the default int8
            // arithmetic the generic ones run, and comparing the two would compare the generic kernels with themselves.)
            var options = new CalderaModelOptions { Threads = 1, Int8Arithmetic = false };
            using var generated = (CalderaModel)load.Invoke(null, [options])!;
            using var generic = (CalderaModel)load.Invoke(null, [options with { UseGeneratedKernels = false }])!;
            Assert.Equal("resource Caldera.Models.Stories.cald in GeneratedModels", generated.SourcePath);
            AssertGeneratedKernelsBound(generated, cald);

            CompareLogits(generated, generic);
            Assert.Equal(SpecialisedMatrices, generated.GeneratedKernelBindings); // the transformer CompareLogits ran
            Assert.Equal(0, generic.GeneratedKernelBindings);
            var greedy = new GenerationOptions { MaxOutputTokens = 80, Sampling = new SamplingOptions { Temperature = 0 } };
            string text = string.Concat(generated.Generate("Once upon a time", greedy));
            Assert.Equal(string.Concat(generic.Generate("Once upon a time", greedy)), text);
            Assert.True(text.Length > 100, text);
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>A 5-token prompt (prefill), then greedy decode to 32 positions; each decode step's logits compared.</summary>
    private static void CompareLogits(CalderaModel generated, CalderaModel generic)
    {
        using var a = generated.CreateTransformer();
        using var b = generic.CreateTransformer();
        int[] prompt = generated.Tokenizer.Encode("Once upon a time");
        var expected = b.Prefill(prompt, 0).ToArray();
        var actual = a.Prefill(prompt, 0).ToArray();
        float worst = 0;
        for (int position = prompt.Length; ; position++)
        {
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
            int next = ArgMax(expected);
            Assert.Equal(next, ArgMax(actual));
            if (position == PromptAndDecodeTokens) break;
            expected = b.Decode(next, position).ToArray();
            actual = a.Decode(next, position).ToArray();
        }
        Assert.True(worst <= LogitTolerance, $"largest logit difference {worst} exceeds {LogitTolerance}");
    }

    /// <summary>Equal logits prove nothing if the generated kernels never ran: every specialisable matrix must get them.</summary>
    private static void AssertGeneratedKernelsBound(CalderaModel model, string cald)
    {
        var kernelsFor = model.GetType().GetMethod("KernelsFor", BindingFlags.NonPublic | BindingFlags.Instance)!;
        using var file = Caldera.Runtime.Formats.CaldFile.Open(cald);
        var bound = file.Content.Matrices.Select(m => kernelsFor.Invoke(model, [new MatrixShape(m.Name, m.Rows, m.Columns, m.Rank)])).Where(k => k != null).ToList();
        Assert.Equal(SpecialisedMatrices, bound.Count);
        Assert.All(bound, k => Assert.Equal("StoryTeller.Stories", k!.GetType().DeclaringType!.FullName));
    }

    private static Assembly Compile(Compilation compilation, AssemblyLoadContext context, string cald)
    {
        using var image = new MemoryStream();
        var resources = new[] { new ResourceDescription("Caldera.Models.Stories.cald", () => File.OpenRead(cald), isPublic: true) };
        var result = compilation.Emit(image, manifestResources: resources);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        image.Position = 0;
        return context.LoadFromStream(image);
    }

    private static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }
}
