using System.Runtime.Intrinsics;
using System.Text.Json;

namespace Caldera.Cli.Tests.Quality;

/// <summary>
/// Quality guards: real models compressed at <see cref="GuardModels"/>' fixed setting and evaluated by `caldera eval`
/// against their fp32 checkpoints on held-out text (<see cref="GuardModels.HeldOutSlice"/>, ctx 256, llama.cpp's
/// scoring). Mean KLD must stay within <see cref="KldMargin"/> of the figure docs/quality.md gives for this setting
/// ("Quality guards"), and caldera run's default integer arithmetic within <see cref="Int8Margin"/> of float. A change
/// to calibration, decomposition, the format or the kernels that costs quality fails here, whatever text it still writes.
/// </summary>
public sealed class QualityGuardTests
{
    /// <summary>
    /// Relative band around the documented KLD. The compression is deterministic for one vector width; the band is for
    /// CPUs not measured (Arm), whose float sums round in yet another order. A real regression moves the KLD by more: scaling every low-rank factor by 0.9
    /// raises stories260K's by 11 % and tinystories-256d's by 107 % (docs/quality.md).
    /// </summary>
    private const double KldMargin = 0.05;

    /// <summary>
    /// Int8 activations with the 6-bit classifier cost +0.47 % KLD over float on the whole held-out text
    /// (docs/quality.md, "Integer arithmetic at inference") and +1.0 % on the guard's slice; ±2 % leaves room for the
    /// slice's small sample and fails an integer kernel that rounds wrong.
    /// </summary>
    private const double Int8Margin = 0.02;

    // docs/quality.md, "Quality guards": the mean KLD of these exact compressions on the guard's slice. Where 512-bit
    // vectors are not accelerated the compression's sums round in another order and tinystories-256d gets other codes
    // (0.07922 with AVX2 only, DOTNET_EnableAVX512=0, against 0.07991), so each width has its measured figure: at this
    // setting one calibration sequence more or less moves the KLD by 15–20 %, and so may any change to the rounding of
    // the calibration's forward pass. stories260K's is the same to four digits at both widths.
    private static double TinyStories256dKld => Vector512.IsHardwareAccelerated ? 0.07991 : 0.07922;
    private const double Stories260KKld = 0.5198;

    [Fact]
    public void Compressed_tinystories_256d_keeps_its_documented_kld_in_float_and_in_int8()
    {
        string model = GuardModels.TinyStories256dRank8;
        double floatKld = MeanKld(model, TestModels.TinyStories256dGguf, []);
        AssertWithinMargin(TinyStories256dKld, floatKld, "tinystories-256d rank 8, float");

        // caldera run's default: int8 activations and the 6-bit classifier, prefilled one token at a time.
        double int8Kld = MeanKld(model, TestModels.TinyStories256dGguf, ["--int8", "--int6-classifier"]);
        Assert.True(Math.Abs(int8Kld - floatKld) <= Int8Margin * floatKld,
            $"int8 arithmetic: mean KLD {int8Kld:F5} against float's {floatKld:F5} ({(int8Kld / floatKld - 1) * 100:+0.00;-0.00} %, margin ±{Int8Margin:P0})");
    }

    [Fact]
    public void Compressed_stories260K_keeps_its_documented_kld()
    {
        double kld = MeanKld(GuardModels.Stories260KRank16, TestModels.Stories260KBin, ["--tokenizer", TestModels.Tok512Model]);
        AssertWithinMargin(Stories260KKld, kld, "stories260K rank 16, float");
    }

    private static void AssertWithinMargin(double documented, double measured, string what) =>
        Assert.True(Math.Abs(measured - documented) <= KldMargin * documented,
            $"{what}: mean KLD {measured:F5}, docs/quality.md gives {documented:F5} ({(measured / documented - 1) * 100:+0.0;-0.0} %, margin ±{KldMargin:P0})");

    private static double MeanKld(string model, string reference, string[] options)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CalderaCli.Run(["eval", model, "--text", GuardModels.HeldOutSlice, "--reference", reference, "--ctx", "256", "--json",
            "--threads", "2", .. options], stdout, stderr);
        Assert.True(code == 0, $"caldera eval exited {code}: {stderr}");
        using var json = JsonDocument.Parse(stdout.ToString());
        return json.RootElement.GetProperty("mean_kld").GetDouble();
    }
}
