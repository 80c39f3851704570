using Caldera.Common;

namespace Caldera.Build.Tests;

/// <summary>
/// The default linux-x64 NativeAOT publish: one executable at Caldera.Build's portable baseline (x86-64-v3) that
/// carries an x86-64-v4 build of the same app in its trailer, beside the model, and runs it in its own place where the
/// CPU has AVX-512 VBMI and GFNI. Copied alone into an empty folder, it must tell <c>caldera run</c>'s story with this
/// machine's widest vectors when the variant runs, and with 256-bit vectors (<c>DOTNET_EnableAVX512=0</c>) when
/// <c>CALDERA_ISA=portable</c> keeps the portable code: the float parts of a step sum in the vector order of their
/// width, so each image is compared with the JIT at its own width (as in the trailer and sample tests).
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class InstructionSetVariantTests(PackageFeed feed)
{
    private const string Prompt = "Once upon a time";

    [Fact]
    public void Default_publish_carries_an_avx512_variant_that_runs_where_the_cpu_has_it_and_the_portable_code_elsewhere()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64)
            Assert.Fail("this test publishes for linux-x64; run it on a linux-x64 machine");
        const string name = "variant-app";
        var project = feed.CreateProject(name,
            $"""<CalderaModel Include="{TestPaths.Stories260KBin}" Name="Stories" Rank="8" Tokenizer="{TestPaths.Tok512Model}" Namespace="VariantApp" />""",
            $$"""
            // Says which image runs, where it thinks it lives and where its weights came from, then tells its story; all
            // on stdout, in this order.
            using var model = VariantApp.Stories.Load();
            System.Console.WriteLine($"avx512 {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}");
            System.Console.WriteLine($"base {System.AppContext.BaseDirectory}");
            System.Console.WriteLine($"loaded {model.SourcePath}");
            System.Console.WriteLine($"inherited {System.Environment.GetEnvironmentVariable("CALDERA_VARIANT_OF") ?? "nothing"}");
            var greedy = new Caldera.GenerationOptions { MaxOutputTokens = 64, Sampling = new Caldera.SamplingOptions { Temperature = 0 } };
            System.Console.WriteLine(string.Concat(model.Generate("{{Prompt}}", greedy)));
            """);
        string published = Path.Combine(project.Directory, "published");

        var publish = project.Publish("-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-o", published);

        Assert.True(publish.ExitCode == 0, publish.ToString());
        // The small model goes to the trailer too (Storage auto), so the two executables share its one copy.
        Assert.Contains("Caldera: appended Stories", publish.Output);
        Assert.Contains($"Caldera: appended {X86Variant.TrailerEntry}", publish.Output);
        string executable = Path.Combine(project.Directory, "alone", name);
        Directory.CreateDirectory(Path.GetDirectoryName(executable)!);
        File.Copy(Path.Combine(published, name), executable);
        using (var stream = File.OpenRead(executable))
        {
            var entries = TrailerLayout.Read(stream)!.Entries;
            Assert.Equal(["Stories", X86Variant.TrailerEntry], entries.Select(e => e.Name));
            stream.Position = entries[1].Offset;
            Span<byte> elf = stackalloc byte[4];
            stream.ReadExactly(elf);
            Assert.True(elf.SequenceEqual("\u007fELF"u8), "the variant entry is an ELF executable");
        }

        string cald = Path.Combine(project.Directory, "obj", "Release", TestProject.TargetFramework, "linux-x64", "caldera", "Stories.cald");
        string folder = Path.GetDirectoryName(executable)!;
        bool variantRuns = X86Variant.RunsOn(X86Variant.ReadCpuFlags(new StringReader(File.ReadAllText("/proc/cpuinfo"))));
        if (!variantRuns)
            Console.WriteLine($"this CPU lacks one of {string.Join(' ', X86Variant.CpuFlags)}: only the portable code can run here; the variant's own run is checked on an AVX-512 VBMI machine (Zen 4 and later, Ice Lake and later)");

        var byDefault = DotNet.Exec(executable, folder);
        AssertTells(byDefault, executable, avx512: variantRuns, Reference(cald, folder, avx512: variantRuns));

        string portableStory = Reference(cald, folder, avx512: false);
        var portable = DotNet.Exec(executable, folder, new Dictionary<string, string> { ["CALDERA_ISA"] = "portable" });
        AssertTells(portable, executable, avx512: false, portableStory);

        // On a CPU without AVX-512 (qemu's Haswell: AVX2, FMA, BMI; its CPUID has no AVX-512 although /proc/cpuinfo is
        // this machine's) the executable starts and runs its portable code; an x86-64-v4 image would refuse to start.
        if (!File.Exists(Qemu))
        {
            Console.WriteLine($"{Qemu} is missing (Debian's qemu-user, which scripts/install-arm64-cross.sh installs): the start on an AVX2-only CPU was not checked");
            return;
        }
        // qemu warns on stderr about Haswell features its TCG lacks (pcid, rtm…); the app writes everything to stdout.
        var haswell = DotNet.Exec("sh", folder, "-c", $"exec {Qemu} -cpu Haswell \"$0\" 2>/dev/null", executable);
        AssertTells(haswell, executable, avx512: false, portableStory);
    }

    private const string Qemu = "/usr/bin/qemu-x86_64";

    private static string Reference(string cald, string folder, bool avx512)
    {
        // caldera run counts positions (llama2.c's steps) and the app output tokens: the app's story starts caldera run's.
        var environment = avx512 ? new Dictionary<string, string>() : new Dictionary<string, string> { ["DOTNET_EnableAVX512"] = "0" };
        var reference = DotNet.Exec("dotnet", folder, environment,
            Path.Combine(TestPaths.CliOutput, "caldera.dll"), "run", cald, "--prompt", Prompt, "--temperature", "0", "--steps", "160");
        Assert.True(reference.ExitCode == 0, reference.ToString());
        return reference.Text();
    }

    private static void AssertTells(DotNet.Result run, string executable, bool avx512, string reference)
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"avx512 {avx512}", run.Output);
        Assert.Contains($"base {Path.GetDirectoryName(executable)}{Path.DirectorySeparatorChar}", run.Output);
        Assert.Contains($"loaded trailer entry Stories of {executable}", run.Output);
        Assert.Contains("inherited nothing", run.Output);
        string story = run.Text("avx512 ", "base ", "loaded ", "inherited ");
        Assert.True(story.Length > Prompt.Length + 100, $"the app told only '{story}'");
        Assert.StartsWith(Prompt + story, reference, StringComparison.Ordinal);
    }
}
