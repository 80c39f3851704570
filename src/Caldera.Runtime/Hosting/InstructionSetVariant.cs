using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Caldera.Common;

namespace Caldera.Runtime.Hosting;

/// <summary>
/// The AVX-512 build of a published app, carried in its trailer, run in place of the portable code on the CPUs whose
/// AVX-512 the fast E8P kernels use. NativeAOT fixes the instruction sets at publish time and cannot keep AVX-512 behind
/// a run-time check (README, "CPU baseline"), so the portable (x86-64-v3) executable carries a second, x86-64-v4 one
/// (<see cref="X86Variant.TrailerEntry"/>) and, before <c>Main</c> runs, replaces its own image with it: the
/// variant is copied into an in-memory file and executed with <c>fexecve</c>, which keeps the process id, the
/// arguments, the environment and the open files. Any failure (not Linux, a kernel that forbids executing in-memory
/// files) keeps the portable code, which computes the same text more slowly; <c>CALDERA_ISA=portable</c> keeps it on
/// purpose.
/// </summary>
/// <remarks>
/// In the variant, <see cref="Environment.ProcessPath"/> names the in-memory file; <see cref="AppContext.BaseDirectory"/>
/// is set to the published executable's folder and <see cref="Executable"/> to the executable, whose trailer holds
/// the models.
/// </remarks>
internal static unsafe partial class InstructionSetVariant
{
    /// <summary>Set to <c>portable</c> to keep the portable code on an AVX-512 machine (to compare the two, or to rule the variant out).</summary>
    public const string ChoiceVariable = "CALDERA_ISA";

    /// <summary>The value of <see cref="ChoiceVariable"/> that keeps the portable code.</summary>
    public const string Portable = "portable";

    /// <summary>Passed to the variant: the published executable's path, and the in-memory file's descriptor to close.</summary>
    internal const string HostVariable = "CALDERA_VARIANT_OF", DescriptorVariable = "CALDERA_VARIANT_FD";

    /// <summary>The executable whose trailer holds the models: the published file, also when this process is its variant.</summary>
    public static string? Executable => s_host ?? Environment.ProcessPath;

    private static string? s_host;

    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255", Justification = "The image must be replaced before the app's Main runs; NativeAOT runs module initializers at startup.")]
    internal static void SelectAtStartup()
    {
        // Only a NativeAOT executable can carry a variant; under the JIT every path is picked at run time already.
        if (RuntimeFeature.IsDynamicCodeSupported || !OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return;
        if (Environment.GetEnvironmentVariable(HostVariable) is { Length: > 0 } host)
        {
            AdoptHost(host);
            return;
        }
        if (Avx512F.IsSupported || Environment.GetEnvironmentVariable(ChoiceVariable) == Portable) return;
        try
        {
            if (Environment.ProcessPath is { } self && FindVariant(self) is { } entry && CpuIdHasVariantFeatures() && X86Variant.RunsOn(ReadCpuFlags()))
                Execute(self, entry);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // The portable code runs the same model; a model a damaged trailer holds is reported when it is opened.
        }
    }

    /// <summary>
    /// What the processor itself reports (CPUID leaf 7): x86-64-v4's AVX-512 F, DQ, CD, BW and VL, VBMI and GFNI. Asked
    /// beside Linux's flags, which say the kernel saves the registers, because an emulator (qemu-user) shows the host's
    /// /proc/cpuinfo but its own CPUID.
    /// </summary>
    internal static bool CpuIdHasVariantFeatures()
    {
        const int Avx512F = 1 << 16, Avx512Dq = 1 << 17, Avx512Cd = 1 << 28, Avx512Bw = 1 << 30, Avx512Vl = 1 << 31;
        const int Avx512Vbmi = 1 << 1, Gfni = 1 << 8;
        if (X86Base.CpuId(0, 0).Eax < 7) return false;
        var (_, ebx, ecx, _) = X86Base.CpuId(7, 0);
        const int AvxMask = Avx512F | Avx512Dq | Avx512Cd | Avx512Bw | Avx512Vl;
        return (ebx & AvxMask) == AvxMask && (ecx & (Avx512Vbmi | Gfni)) == (Avx512Vbmi | Gfni);
    }

    /// <summary>The first processor's "flags" line of /proc/cpuinfo, or null.</summary>
    private static string? ReadCpuFlags()
    {
        using var reader = new StreamReader("/proc/cpuinfo", Encoding.ASCII);
        return X86Variant.ReadCpuFlags(reader);
    }

    private static TrailerEntry? FindVariant(string executable)
    {
        using var stream = new FileStream(executable, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        return TrailerLayout.Read(stream)?.Entries.FirstOrDefault(e => e.Name == X86Variant.TrailerEntry);
    }

    /// <summary>Copies the variant into an in-memory file and executes it; returns only when that fails.</summary>
    private static void Execute(string self, TrailerEntry entry)
    {
        // Not close-on-exec: the kernel starts the variant as /dev/fd/<fd>, which NativeAOT resolves for
        // Environment.ProcessPath; kept open, it names the in-memory file. The variant closes it once it has read that.
        int fd = MemfdCreate("caldera-x86-64-v4", 0);
        if (fd < 0) return;
        try
        {
            using (var source = File.OpenHandle(self))
                CopyRange(source, entry.Offset, fd, entry.Length);
            byte[][] arguments = SplitNulTerminated(File.ReadAllBytes("/proc/self/cmdline"));
            var environment = SplitNulTerminated(File.ReadAllBytes("/proc/self/environ")).ToList();
            environment.Add(NulTerminated($"{HostVariable}={self}"));
            environment.Add(NulTerminated($"{DescriptorVariable}={fd.ToString(CultureInfo.InvariantCulture)}"));
            Fexecve(fd, Pack(arguments), Pack([.. environment]));
            // Only a failed fexecve returns (e.g. vm.memfd_noexec): the strings stay allocated, the portable code runs.
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>In the variant: the published executable's folder is the app's, and the descriptor is closed.</summary>
    private static void AdoptHost(string host)
    {
        s_host = host;
        AppContext.SetData("APP_CONTEXT_BASE_DIRECTORY", Path.GetDirectoryName(host) + Path.DirectorySeparatorChar);
        _ = Environment.ProcessPath; // read (and cached) while the descriptor still names the in-memory file
        if (int.TryParse(Environment.GetEnvironmentVariable(DescriptorVariable), NumberStyles.None, CultureInfo.InvariantCulture, out int fd))
            Close(fd);
        // The app's own child processes are not variants of this executable.
        Environment.SetEnvironmentVariable(HostVariable, null);
        Environment.SetEnvironmentVariable(DescriptorVariable, null);
    }

    /// <summary>
    /// Copies the variant's bytes into the in-memory file inside the kernel, with no pass through this process:
    /// sendfile, which writes to any file; copy_file_range refuses most pairs of file systems (EXDEV) since Linux 5.19.
    /// </summary>
    private static void CopyRange(Microsoft.Win32.SafeHandles.SafeFileHandle source, long offset, int target, long length)
    {
        long position = offset;
        for (long left = length; left > 0;)
        {
            long copied = SendFile(target, (int)source.DangerousGetHandle(), &position, (nuint)Math.Min(left, MaxSendFile));
            if (copied <= 0) throw new IOException($"sendfile of the x86-64-v4 variant failed ({Marshal.GetLastPInvokeError()}) with {left} bytes left");
            left -= copied;
        }
    }

    internal static byte[][] SplitNulTerminated(byte[] bytes)
    {
        var items = new List<byte[]>();
        for (int start = 0, i = 0; i < bytes.Length; i++)
            if (bytes[i] == 0)
            {
                items.Add(bytes[start..(i + 1)]);
                start = i + 1;
            }
        return [.. items];
    }

    private static byte[] NulTerminated(string text) => Encoding.UTF8.GetBytes(text + "\0");

    /// <summary>A NULL-terminated array of pointers to copies of <paramref name="items"/> in native memory, as execve takes.</summary>
    private static byte** Pack(byte[][] items)
    {
        var array = (byte**)NativeMemory.Alloc((nuint)(items.Length + 1), (nuint)sizeof(byte*));
        for (int i = 0; i < items.Length; i++)
        {
            var copy = (byte*)NativeMemory.Alloc((nuint)items[i].Length);
            items[i].CopyTo(new Span<byte>(copy, items[i].Length));
            array[i] = copy;
        }
        array[items.Length] = null;
        return array;
    }

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "fexecve")]
    private static partial int Fexecve(int fd, byte** arguments, byte** environment);

    /// <summary>Linux moves at most 0x7ffff000 bytes per sendfile call.</summary>
    private const long MaxSendFile = 0x7ffff000;

    [LibraryImport("libc", EntryPoint = "sendfile", SetLastError = true)]
    private static partial long SendFile(int output, int input, long* inputOffset, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
