using System.Security.Cryptography;
using System.Text;
using Caldera.Runtime.Formats;

namespace Caldera.Compiler.Calibration;

/// <summary>
/// The text the calibration activations come from: a UTF-8 file, or the short built-in set of varied English
/// paragraphs shipped with the tool (enough for a quick compression; a real run should pass a larger
/// sample of the text the model will see).
/// </summary>
internal sealed record CalibrationText(string Text, string Description)
{
    /// <summary>A calibration file larger than this is surely a mistake (a model, an archive).</summary>
    public const long MaxFileBytes = 1L << 30;

    private const string BuiltInResource = "Caldera.Compiler.Calibration.DefaultCalibration.txt";

    /// <summary>The built-in paragraphs; described as "built-in".</summary>
    public static CalibrationText BuiltIn()
    {
        using var stream = typeof(CalibrationText).Assembly.GetManifestResourceStream(BuiltInResource)
            ?? throw new InvalidOperationException($"the embedded resource {BuiltInResource} is missing from the build");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return new CalibrationText(reader.ReadToEnd(), "built-in");
    }

    /// <summary>Reads <paramref name="path"/>; described by its file name and SHA-256 so the stamp changes when it does.</summary>
    public static CalibrationText FromFile(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, "calibration text file not found; pass an existing UTF-8 text file to --calibration");
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes)
            throw new ModelFormatException(path, $"{length} bytes is too large for a calibration text (limit {MaxFileBytes}); pass a text sample");
        byte[] bytes = File.ReadAllBytes(path);
        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new ModelFormatException(path, $"is not UTF-8 text (invalid byte at {e.Index}); pass a UTF-8 text file to --calibration", e);
        }
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        return new CalibrationText(text, $"{Path.GetFileName(path)} sha256:{Convert.ToHexStringLower(SHA256.HashData(bytes))}");
    }
}
