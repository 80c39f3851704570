using System.Runtime.InteropServices;
using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Tests.Hosting;

/// <summary>
/// An app's model has its checksum computed on a pool thread, beside the first generation: the header and the
/// manifest are still verified at open, and corrupt weights still fail every generation with the checksum's error
/// naming the file, at its end at the latest.
/// </summary>
public class ChecksumInBackgroundTests
{
    [Fact]
    public async Task A_file_with_a_corrupt_code_opens_and_its_background_check_names_the_file()
    {
        using var dir = new TempDirectory();
        string path = CorruptCopy(dir);
        using (var intact = CaldFile.Open(CompressedStories.Path, checksumInBackground: true))
        {
            await intact.VerifyChecksumAsync();
            intact.ThrowIfCorrupt();
        }

        using var file = CaldFile.Open(path, checksumInBackground: true);
        var e = await Assert.ThrowsAsync<ModelFormatException>(() => file.VerifyChecksumAsync());
        Assert.StartsWith($"{path}: checksum mismatch", e.Message);
        Assert.Contains("copy it again or re-create it with caldera compress", e.Message);
        e = Assert.Throws<ModelFormatException>(file.ThrowIfCorrupt);
        Assert.StartsWith($"{path}: checksum mismatch", e.Message);
        // Opened the ordinary way, the same file is refused at once.
        Assert.StartsWith($"{path}: checksum mismatch", Assert.Throws<ModelFormatException>(() => CaldFile.Open(path)).Message);
    }

    [Fact]
    public void A_generation_on_a_corrupt_model_fails_with_the_checksum_error_and_so_does_the_next()
    {
        using var dir = new TempDirectory();
        string path = CorruptCopy(dir);
        // The description a build baked for the intact file: the corrupt copy's header still matches it.
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), new CalderaModelOptions { ModelPath = path, Threads = 1 });
        var options = new GenerationOptions { MaxOutputTokens = 4 };
        var e = Assert.Throws<ModelFormatException>(() => string.Concat(model.Generate("Once upon a time", options)));
        Assert.StartsWith($"{path}: checksum mismatch", e.Message);
        e = Assert.Throws<ModelFormatException>(() => string.Concat(model.Generate("Once upon a time", options)));
        Assert.StartsWith($"{path}: checksum mismatch", e.Message);
    }

    [Fact]
    public void Disposing_files_right_after_opening_them_with_a_background_check_does_not_fault()
    {
        // Dispose waits for the check, which would otherwise read the bytes after they are unmapped and crash the process.
        for (int i = 0; i < 20; i++) CaldFile.Open(CompressedStories.Path, checksumInBackground: true).Dispose();
    }

    /// <summary>A copy of the compressed stories model with one bit of the first matrix's Q codes flipped: any word is a valid code, so only the checksum can tell.</summary>
    private static string CorruptCopy(TempDirectory dir)
    {
        byte[] bytes = CompressedStories.Bytes;
        int at;
        using (var file = CaldFile.Open(CompressedStories.Path))
        {
            var codes = MemoryMarshal.AsBytes(file.Content.Matrices[0].QCodes.Span)[..64];
            at = bytes.AsSpan().IndexOf(codes);
            Assert.True(at > 0 && bytes.AsSpan(at + 1).IndexOf(codes) < 0, "the first Q codes are found once in the file");
        }
        bytes[at + 10] ^= 0x04;
        string path = dir.File("corrupt.cald");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
