using System.Diagnostics;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Cli.Tests;

/// <summary>
/// The portable kernels (<c>KernelPath.Vector128</c> and the int8 <c>Path.Vector128</c>: the code 64-bit Arm runs)
/// end to end on this x86 machine, in `caldera run` child processes whose JIT is kept from wider vectors:
/// <c>DOTNET_EnableAVX2=0</c> (.NET 10 switches AVX2, FMA and AVX-512 off with it: SSE4.2 only, so Vector128 is
/// all that is accelerated and fused multiply-adds run in software, exactly) and <c>DOTNET_PreferredVectorBitWidth=128</c>
/// (AVX2 and FMA stay on, 256-bit vectors are reported unaccelerated). .NET 10 ignores <c>DOTNET_EnableAVX512F</c>;
/// its switch is <c>DOTNET_EnableAVX512</c>. The kernels unit tests force each path in-process; this catches a
/// portable path that dispatch never reaches or that breaks only in the whole forward pass.
/// </summary>
public sealed class PortableVectorPathTests
{
    private const string Prompt = "Once upon a time";
    private const int Steps = 100;
    private const string PortableKernels = "kernels Vector128, int8 Vector128";

    /// <summary>
    /// A near tie in int8 arithmetic. The integer sums are exact on every path, but the activations are rounded to int8:
    /// where two widths' float parts differ in the last bit, an entry at a rounding boundary takes the next level, a step
    /// of max|u|/127 that moves logits by far more than rounding does (<see cref="GreedyTrace.NearTie"/>). Measured on
    /// this test's model: the portable and AVX-512 decodes part at a top-two gap of 0.135 (step 79 of 100); 0.25 keeps
    /// that margin while a wrong kernel, which moves logits by whole units from the first token, still fails.
    /// </summary>
    private const float Int8NearTie = 0.25f;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Caldera_run_on_the_portable_vector_path_tells_the_default_paths_story(bool useFloat)
    {
        string model = CompressedStories.Path;
        var (story, _) = Run(model, useFloat, []);
        var (sse, sseKernels) = Run(model, useFloat, new() { ["DOTNET_EnableAVX2"] = "0" });
        var (narrow, narrowKernels) = Run(model, useFloat, new() { ["DOTNET_PreferredVectorBitWidth"] = "128" });

        Assert.Equal(PortableKernels, sseKernels);
        Assert.Equal(PortableKernels, narrowKernels);
        // One path, one width: the same bits whether its fused multiply-adds run in hardware or in software.
        Assert.Equal(narrow, sse);
        // Against the default path (the widest this CPU accelerates), sums round in another order: the same text up to
        // the default decode's first near tie of two logits, where either token may win (in int8, a wider tie: see below).
        string agreed = TextBeforeFirstNearTie(model, int8: !useFloat);
        Assert.True(agreed.Length > Prompt.Length + 40, $"the stories are compared over too short a prefix: '{agreed}'");
        Assert.StartsWith(agreed, story, StringComparison.Ordinal);
        Assert.StartsWith(agreed, sse, StringComparison.Ordinal);
    }

    /// <summary>
    /// With AVX-512 switched off (an AVX2 machine, or one with AVX-VNNI too), the int8 kernels take the 256-bit path,
    /// not the scalar one; the kernels' unit tests pass any path in explicitly, so only dispatch can get this wrong.
    /// </summary>
    [IsaFact(Isa.Avx2)]
    public void Without_avx512_caldera_run_takes_the_256_bit_int8_path()
    {
        var (_, kernels) = Run(CompressedStories.Path, useFloat: false, new() { ["DOTNET_EnableAVX512"] = "0" });
        Assert.Contains(kernels, (string[])["kernels Vector256, int8 Avx2", "kernels Vector256, int8 AvxVnni"]);
    }

    /// <summary>caldera run's story (stdout) and the kernel paths its status line names.</summary>
    private static (string Story, string Kernels) Run(string model, bool useFloat, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])[Path.Combine(AppContext.BaseDirectory, "caldera.dll"), "run", model, "--prompt", Prompt,
                     "--steps", Steps.ToString(), "--temperature", "0", .. useFloat ? ["--float"] : Array.Empty<string>()])
            start.ArgumentList.Add(a);
        foreach (var (key, value) in environment) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(4)), "caldera run did not finish in 4 minutes");
        Assert.True(process.ExitCode == 0, $"caldera run exited {process.ExitCode}: {stderr.Result}");
        int at = stderr.Result.IndexOf("kernels ", StringComparison.Ordinal);
        Assert.True(at >= 0, $"no kernel paths in caldera run's status line: {stderr.Result}");
        return (stdout.TrimEnd(), stderr.Result[at..].TrimEnd());
    }

    /// <summary>The default path's greedy text up to its first near tie, with caldera run's arithmetic (int8 and the 6-bit classifier, or float).</summary>
    private static string TextBeforeFirstNearTie(string model, bool int8)
    {
        using var loaded = LoadedModel.Open(model);
        using var transformer = loaded.CreateTransformer(new TransformerOptions
        {
            Threads = 1, ContextLength = Steps, Int8Activations = int8, ClassifierPrecision = int8 ? ClassifierPrecision.Int6 : ClassifierPrecision.Stored,
        });
        return GreedyTrace.TextBeforeFirstNearTie(transformer, loaded.EmbeddedTokenizer()!, Prompt, Steps, int8 ? Int8NearTie : GreedyTrace.NearTie).Text;
    }
}
