using System.Text.RegularExpressions;
using TorchSharp;

namespace Functional.AD.Torch;

/// <summary>
/// A Torch device that jitted functions run on and tensors live on: <c>cpu</c> or <c>cuda:N</c>.
/// Example: <c>var step = lossGrad.JitTorch(TorchBackend.Cpu);</c> or <c>TorchBackend.Parse("cuda:0")</c>.
/// The device path is the same for CPU and CUDA: only the device a tensor is created on differs.
/// </summary>
/// <example><code>
/// var device = TorchBackend.Cpu;                     // or TorchBackend.Parse("cuda:0")
/// var step = Ad.Grad(loss).JitTorch(device);
/// </code></example>
public sealed partial class TorchBackend : IEquatable<TorchBackend>
{
    /// <summary>The host CPU through libtorch.</summary>
    public static TorchBackend Cpu { get; } = new("cpu", -1);

    /// <summary>The device name as Torch writes it: <c>cpu</c> or <c>cuda:N</c>.</summary>
    public string Name { get; }

    /// <summary>The CUDA device index, or -1 for the CPU.</summary>
    public int Index { get; }

    /// <summary>Whether this is a CUDA device.</summary>
    public bool IsCuda => Index >= 0;

    private torch.Device? device;

    private TorchBackend(string name, int index)
    {
        Name = name;
        Index = index;
    }

    /// <summary>The TorchSharp device (created on first use, which loads libtorch).</summary>
    internal torch.Device Device => device ??= IsCuda ? new torch.Device(DeviceType.CUDA, Index) : new torch.Device(DeviceType.CPU);

    /// <summary>
    /// CUDA device <paramref name="index"/>. Fails with a <see cref="TorchDeviceException"/> (not a native crash)
    /// when this process has no CUDA device of that index, for example because it references libtorch-cpu.
    /// </summary>
    /// <param name="index">The device index, 0 for the first GPU.</param>
    /// <returns>The backend.</returns>
    /// <exception cref="TorchDeviceException">CUDA is not available or the index is out of range.</exception>
    public static TorchBackend Cuda(int index = 0)
    {
        if (index < 0)
            throw new TorchDeviceException($"cuda:{index}", $"a CUDA device index is 0 or more, not {index}. Accepted: \"cpu\", \"cuda\", \"cuda:N\" with N >= 0.");
        if (!torch.cuda.is_available())
            throw new TorchDeviceException($"cuda:{index}",
                "CUDA was asked for, but torch.cuda.is_available() is false in this process: it loaded a CPU-only libtorch " +
                "(libtorch-cpu-linux-x64) or has no GPU. Reference the CUDA libtorch package instead " +
                "(libtorch-cuda-12.8-linux-x64 on Linux) on a machine with an NVIDIA driver, or use TorchBackend.Cpu.");
        int count = torch.cuda.device_count();
        if (index >= count)
            throw new TorchDeviceException($"cuda:{index}", $"this process sees {count} CUDA device(s), so the index must be 0 to {count - 1}.");
        return new TorchBackend($"cuda:{index}", index);
    }

    /// <summary>
    /// Parses a device string: <c>"cpu"</c>, <c>"cuda"</c> (device 0) or <c>"cuda:N"</c>; case-insensitive.
    /// Example: <c>TorchBackend.Parse("cpu") == TorchBackend.Cpu</c>.
    /// </summary>
    /// <param name="device">The device string.</param>
    /// <returns>The backend.</returns>
    /// <exception cref="TorchDeviceException">The string is not a device name, or names a CUDA device this process lacks.</exception>
    public static TorchBackend Parse(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var s = device.Trim().ToLowerInvariant();
        if (s == "cpu") return Cpu;
        if (s == "cuda") return Cuda(0);
        var m = CudaPattern().Match(s);
        if (m.Success && int.TryParse(m.Groups[1].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index))
            return Cuda(index);
        throw new TorchDeviceException(device, "it is not a device name. Accepted: \"cpu\", \"cuda\" (device 0) or \"cuda:N\" with N >= 0.");
    }

    [GeneratedRegex(@"^cuda:(\d{1,4})$")]
    private static partial Regex CudaPattern();

    /// <inheritdoc/>
    public bool Equals(TorchBackend? other) => other is not null && other.Index == Index;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as TorchBackend);

    /// <inheritdoc/>
    public override int GetHashCode() => Index;

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>A backend with no availability check (tests of device mismatches on machines without a GPU).</summary>
    internal static TorchBackend Unchecked(string name, int index) => new(name, index);

    internal static TorchBackend Of(torch.Device d) => d.type switch
    {
        DeviceType.CUDA => new TorchBackend($"cuda:{Math.Max(0, d.index)}", Math.Max(0, d.index)),
        DeviceType.CPU => Cpu,
        _ => throw new TorchDeviceException(d.ToString() ?? d.type.ToString(),
            $"a tensor on the {d.type} device cannot be used here{(d.type == DeviceType.META ? " (a meta tensor has a shape but no data)" : "")}; " +
            "Functional.AD runs on \"cpu\" and \"cuda:N\". Move it first, e.g. t.to(torch.CPU)."),
    };
}

/// <summary>A device was named that does not exist here, or a tensor lives on another device than the function expects.</summary>
/// <example><code>
/// try { TorchBackend.Parse("cuda:7"); }
/// catch (TorchDeviceException e) { Console.WriteLine(e.Message); }   // the devices that exist here
/// </code></example>
public sealed class TorchDeviceException : ArgumentException
{
    /// <summary>The device string that was asked for or found.</summary>
    public string Device { get; }

    /// <summary>Creates the exception; the message names the device and what would be accepted.</summary>
    /// <param name="device">The device string.</param>
    /// <param name="why">Why it is refused and what would be accepted.</param>
    public TorchDeviceException(string device, string why) : base($"Device \"{device}\": {why}") => Device = device;
}
