using Caldera.Common;

namespace Caldera.Build.Tasks.Models;

/// <summary>
/// Where a compressed model lives in the built app: an embedded <c>resource</c> of the assembly, or a
/// <c>trailer</c> appended to the published native executable. <c>auto</c> picks the trailer for files above
/// <c>$(CalderaEmbedThreshold)</c>, because a managed resource that large slows every build and bloats the IL image,
/// and for every file when the publish carries an x86-64-v4 variant, which would otherwise hold a second copy.
/// </summary>
internal static class ModelStorage
{
    /// <summary>Also the model description's spellings, which <c>caldera describe --storage</c> writes.</summary>
    public const string Resource = ModelDescriptionSchema.StorageKinds.Resource;
    public const string Trailer = ModelDescriptionSchema.StorageKinds.Trailer;
    public const string Auto = "auto";

    public static readonly string[] Choices = [Auto, Resource, Trailer];

    /// <summary>256 MiB, the default of <c>$(CalderaEmbedThreshold)</c>.</summary>
    public const long DefaultThreshold = 256L << 20;

    /// <summary>Reads <c>$(CalderaEmbedThreshold)</c>: empty means the default, anything else must be a positive byte count.</summary>
    public static long ParseThreshold(string value)
    {
        if (value.Trim().Length == 0) return DefaultThreshold;
        if (long.TryParse(value.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long bytes) && bytes > 0)
            return bytes;
        throw new BuildFailure(BuildDiagnostic.ThresholdInvalid,
            $"$(CalderaEmbedThreshold)=\"{value}\" is not a positive number of bytes; set it to a byte count such as 268435456 (256 MiB, the default), or remove it");
    }

    public static string Resolve(string requested, long caldLength, long threshold, bool publishesVariant) =>
        requested == Auto ? (publishesVariant || caldLength > threshold ? Trailer : Resource) : requested;
}
