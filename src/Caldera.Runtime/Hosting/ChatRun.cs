using Microsoft.Extensions.AI;

namespace Caldera.Runtime.Hosting;

/// <summary>How a chat turn ended, filled in when its text is done.</summary>
internal sealed class ChatRun
{
    public ChatFinishReason? FinishReason { get; set; }
    public UsageDetails? Usage { get; set; }
}
