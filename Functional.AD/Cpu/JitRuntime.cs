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

    /// <summary>
    /// The [b, s] row-major <paramref name="data"/> as columns: element j of example e at <c>j * bp + e</c>, each column
    /// padded with zeros to <paramref name="bp"/> (whole vectors), for the lane form of the batch loop.
    /// </summary>
    public static T[] ToColumns<T>(T[] data, int b, int s, int bp) where T : unmanaged
    {
        var c = new T[s * bp];
        if (s == 1) { Array.Copy(data, c, b); return c; }
        for (int e = 0; e < b; e++)
            for (int j = 0; j < s; j++) c[j * bp + e] = data[e * s + j];
        return c;
    }

    /// <summary>The inverse of <see cref="ToColumns"/>: the first <paramref name="b"/> examples as a fresh [b, s] row-major array.</summary>
    public static T[] FromColumns<T>(T[] cols, int b, int s, int bp) where T : unmanaged
    {
        var d = new T[b * s];
        if (s == 1) { Array.Copy(cols, d, b); return d; }
        for (int e = 0; e < b; e++)
            for (int j = 0; j < s; j++) d[e * s + j] = cols[j * bp + e];
        return d;
    }
}
