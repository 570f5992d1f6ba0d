using System.Numerics;

namespace Functional.AD;

/// <summary>Run-time helpers that jitted code calls: typed access to a tensor's elements and making fresh tensors.</summary>
internal static class JitRt
{
    /// <summary>
    /// x's elements as a <typeparamref name="T"/>[]: the tensor's own array when it is managed and of that type (not to be
    /// written), otherwise a converted copy (a weak scalar promoted to float64 uses its exact value, as eager code does).
    /// </summary>
    public static T[] Data<T>(Tensor x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Storage is ManagedStorage m && m.Data is T[] a) return a;
        return Eager.Data<T>(x).ToArray();
    }

    /// <summary>A fresh tensor adopting <paramref name="data"/>.</summary>
    public static Tensor Make<T>(T[] data, int[] dims, bool weak) where T : unmanaged => Tensor.Adopt(data, dims, weak);
}
