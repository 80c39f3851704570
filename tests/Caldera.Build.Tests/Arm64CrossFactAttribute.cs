namespace Caldera.Build.Tests;

/// <summary>
/// A fact that needs what cross-publishes a NativeAOT app for linux-arm64 on this x86-64 Linux machine and runs it under
/// emulation (Debian's clang, aarch64 binutils, arm64 glibc and qemu-user: scripts/install-arm64-cross.sh, which .ci/run
/// calls). Where any is missing the test is reported as skipped, with what is missing and the commands that run it,
/// rather than passing having checked nothing.
/// </summary>
public sealed class Arm64CrossFactAttribute : FactAttribute
{
    /// <summary>The arm64 glibc of Debian's libc6-dev-arm64-cross: qemu-aarch64's -L, and where clang finds the arm64 C runtime.</summary>
    public const string SysRoot = "/usr/aarch64-linux-gnu";

    public Arm64CrossFactAttribute()
    {
        var missing = Missing().ToList();
        if (missing.Count > 0)
            Skip = $"the linux-arm64 cross toolchain is missing ({string.Join(", ", missing)}); install it with "
                + "`bash scripts/install-arm64-cross.sh` (as root), then run "
                + "`dotnet test tests/Caldera.Build.Tests -c Release --filter FullyQualifiedName~Arm64PublishTests`";
    }

    private static IEnumerable<string> Missing()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            yield return "an x86-64 Linux host";
            yield break;
        }
        foreach (string tool in (string[])["clang", "aarch64-linux-gnu-ld", "llvm-objcopy", "qemu-aarch64"])
            if (!OnPath(tool)) yield return tool;
        if (!File.Exists(Path.Combine(SysRoot, "lib", "crt1.o"))) yield return $"{SysRoot}/lib/crt1.o";
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(dir => File.Exists(Path.Combine(dir, tool)));
}
