using Caldera.Common;
using System.Runtime.Intrinsics.X86;
using Caldera.Runtime.Hosting;

namespace Caldera.Runtime.Tests.Hosting;

/// <summary>
/// When a portable executable runs its x86-64-v4 variant: on the flags Linux lists in /proc/cpuinfo. The published
/// executables themselves are run by Caldera.Build.Tests' InstructionSetVariantTests.
/// </summary>
public sealed class InstructionSetVariantTests
{
    /// <summary>A Zen 4 processor's block of /proc/cpuinfo, shortened: the flags line sits among other fields.</summary>
    private const string Zen4 = """
        processor	: 0
        vendor_id	: AuthenticAMD
        model name	: AMD EPYC 9R14
        flags		: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi1 bmi2 avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx512_bf16 avx512vbmi avx512_vbmi2 gfni vaes avx512_vnni avx512_bitalg
        bugs		: sysret_ss_attrs

        processor	: 1
        flags		: fpu
        """;

    /// <summary>Skylake-SP: x86-64-v4, but no VBMI and no GFNI, so the variant would decode no faster.</summary>
    private const string SkylakeFlags = "fpu sse2 avx avx2 fma bmi2 avx512f avx512dq avx512cd avx512bw avx512vl";

    /// <summary>Alder Lake: GFNI and AVX-VNNI but no AVX-512 (the kernel lists none).</summary>
    private const string AlderLakeFlags = "fpu sse2 avx avx2 fma bmi2 gfni vaes avx_vnni";

    [Fact]
    public void The_first_processors_flags_line_is_read()
    {
        string? flags = X86Variant.ReadCpuFlags(new StringReader(Zen4));
        Assert.NotNull(flags);
        Assert.StartsWith(" fpu vme", flags, StringComparison.Ordinal);
        Assert.EndsWith("avx512_bitalg", flags, StringComparison.Ordinal);
        Assert.Null(X86Variant.ReadCpuFlags(new StringReader("processor\t: 0\nmodel name\t: Cortex-A76\n")));
    }

    [Fact]
    public void The_variant_runs_only_with_every_avx512_flag_it_needs()
    {
        Assert.True(X86Variant.RunsOn(X86Variant.ReadCpuFlags(new StringReader(Zen4))));
        Assert.False(X86Variant.RunsOn(SkylakeFlags));
        Assert.False(X86Variant.RunsOn(AlderLakeFlags));
        Assert.False(X86Variant.RunsOn(null));
        Assert.False(X86Variant.RunsOn(""));
        // Each required flag alone missing keeps the portable code; a flag's name inside another's does not count.
        string all = string.Join(' ', X86Variant.CpuFlags);
        foreach (string flag in X86Variant.CpuFlags)
        {
            string without = string.Join(' ', X86Variant.CpuFlags.Where(f => f != flag));
            Assert.False(X86Variant.RunsOn(without), flag);
            Assert.False(X86Variant.RunsOn(without + " x" + flag), flag);
        }
        Assert.True(X86Variant.RunsOn("\t" + all + "  sse2"));
    }

    [Fact]
    public void Cpuid_finds_what_the_jit_finds_for_the_variants_instruction_sets()
    {
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported) return; // not x86: no variant to run
        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") == "0")
            Assert.Fail("DOTNET_EnableAVX512=0 hides AVX-512 from the JIT, which this test compares CPUID with; run it without");
        bool jit = Avx512F.IsSupported && Avx512DQ.IsSupported && Avx512CD.IsSupported && Avx512BW.IsSupported && Avx512F.VL.IsSupported &&
            Avx512Vbmi.IsSupported && Gfni.IsSupported;
        Assert.Equal(jit, InstructionSetVariant.CpuIdHasVariantFeatures());
    }

    [Fact]
    public void Arguments_and_environment_split_at_their_nul_bytes_and_keep_them()
    {
        byte[][] items = InstructionSetVariant.SplitNulTerminated("app\0--prompt\0two words\0\0"u8.ToArray());
        Assert.Equal(["app\0", "--prompt\0", "two words\0", "\0"], items.Select(i => System.Text.Encoding.UTF8.GetString(i)));
        Assert.Empty(InstructionSetVariant.SplitNulTerminated([]));
    }

    [Fact]
    public void A_process_under_the_jit_is_no_variant_and_finds_its_models_in_its_own_executable()
    {
        InstructionSetVariant.SelectAtStartup();
        Assert.Equal(Environment.ProcessPath, InstructionSetVariant.Executable);
    }
}
