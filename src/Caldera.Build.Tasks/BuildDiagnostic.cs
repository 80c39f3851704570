namespace Caldera.Build.Tasks;

/// <summary>
/// One coded build message. <c>CALD1xxx</c> are errors, <c>CALD2xxx</c> warnings; the codes are stable (users
/// search for them and may suppress warnings by code), and every message ends by saying what to change.
/// </summary>
internal sealed record BuildDiagnostic(string Code, string Message)
{
    public bool IsWarning => Code.StartsWith("CALD2", StringComparison.Ordinal);

    // Item metadata (ResolveCalderaModels, CompileCalderaModels).
    public const string InputMissing = "CALD1001";
    public const string RankInvalid = "CALD1002";
    public const string QBitsInvalid = "CALD1003";
    public const string LRBitsInvalid = "CALD1004";
    public const string StorageInvalid = "CALD1005";
    public const string PresetInvalid = "CALD1006";
    public const string MethodInvalid = "CALD1007";
    public const string NameInvalid = "CALD1008";
    public const string NamespaceInvalid = "CALD1009";
    public const string CalibrationUnreadable = "CALD1010";
    public const string TokenizerUnreadable = "CALD1011";
    public const string NameDuplicate = "CALD1012";
    public const string ThresholdInvalid = "CALD1013";
    public const string MaxMemoryInvalid = "CALD1014";
    public const string DistillInvalid = "CALD1015";
    public const string DistillUnavailable = "CALD1016";
    public const string DistillWithoutCalibration = "CALD1017";
    public const string DistillSettingInvalid = "CALD1018";

    // The caldera tool.
    public const string CompressRejected = "CALD1020";
    public const string DescribeRejected = "CALD1021";
    public const string DistillRejected = "CALD1022";
    public const string ToolMissing = "CALD1030";
    public const string ToolFailed = "CALD1031";

    // The executable trailer (AppendCalderaTrailer).
    public const string TrailerExecutableMissing = "CALD1040";
    public const string TrailerCorrupt = "CALD1041";
    public const string TrailerModelMissing = "CALD1042";

    // Warnings.
    public const string ResourceAboveThreshold = "CALD2001";
}
