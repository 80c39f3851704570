namespace Caldera.Common;

/// <summary>
/// The x86-64-v4 (AVX-512) executable a portable linux-x64 app carries in its trailer, for the build task that
/// appends it and the runtime that runs it in the portable one's place; both compile this one file.
/// </summary>
internal static class X86Variant
{
    /// <summary>The trailer entry holding it. Not a C# identifier, so no model (named after its generated class) can take the name.</summary>
    public const string TrailerEntry = "x86-64-v4";

    /// <summary>
    /// What x86-64-v4 requires of the CPU, and what the variant's kernels need beyond it (without VBMI and GFNI it
    /// would decode no faster than the portable code), as Linux names them in /proc/cpuinfo. Linux lists an AVX-512
    /// flag only when the kernel saves those registers, so the flags also say that the OS supports them.
    /// </summary>
    public static readonly string[] CpuFlags = ["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512vbmi", "gfni"];

    /// <summary>True when a /proc/cpuinfo "flags" value (space-separated) includes every flag the variant needs.</summary>
    public static bool RunsOn(string? flags)
    {
        if (flags == null) return false;
        var present = new HashSet<string>(flags.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
        return Array.TrueForAll(CpuFlags, present.Contains);
    }

    /// <summary>The first processor's "flags" value in a /proc/cpuinfo text (every processor of a machine lists the same), or null.</summary>
    public static string? ReadCpuFlags(TextReader cpuinfo)
    {
        for (string? line; (line = cpuinfo.ReadLine()) != null;)
            if (line.StartsWith("flags", StringComparison.Ordinal) && line.IndexOf(':') is int colon and >= 0)
                return line.Substring(colon + 1);
        return null;
    }
}
