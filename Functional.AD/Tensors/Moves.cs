namespace Functional.AD;

/// <summary>
/// The eager kernels that only move elements (transpose, broadcast, gather, concatenation), for every dtype: each runs the
/// generic kernel at the dtype's storage type, so no element is converted.
/// </summary>
internal static class Moves
{
    /// <summary>A kernel generic over the element type, run at the storage type of a dtype.</summary>
    internal interface IMove
    {
        Array Run<T>() where T : unmanaged;
    }

    internal static Array At<M>(DType dt, M m) where M : IMove => dt switch
    {
        DType.Float32 => m.Run<float>(),
        DType.Float64 => m.Run<double>(),
        DType.Int32 => m.Run<int>(),
        DType.Int64 => m.Run<long>(),
        DType.Bool => m.Run<bool>(),
        DType.Float16 => m.Run<Half>(),
        DType.BFloat16 => m.Run<BFloat16>(),
        _ => throw new ArgumentOutOfRangeException(nameof(dt), dt, "not a dtype"),
    };

    readonly struct TransposeMove(Tensor x, int[] perm) : IMove
    {
        public Array Run<T>() where T : unmanaged => Kernels.Transpose(x.Span<T>(), x.Dims, perm);
    }

    readonly struct BroadcastMove(Tensor x, int[] od) : IMove
    {
        public Array Run<T>() where T : unmanaged => Kernels.Broadcast(x.Span<T>(), x.Dims, od);
    }

    readonly struct TakeMove(Tensor x, int outer, int n, int inner, int[] idx) : IMove
    {
        public Array Run<T>() where T : unmanaged => Kernels.Take(x.Span<T>(), outer, n, inner, idx);
    }

    readonly struct ConcatMove(Tensor[] xs, int ax, int[] od) : IMove
    {
        public Array Run<T>() where T : unmanaged
        {
            int outer = Kernels.Product(od, 0, ax), inner = Kernels.Product(od, ax + 1);
            var r = new T[Kernels.Product(od)];
            int off = 0, total = od[ax] * inner;
            foreach (var t in xs)
            {
                int len = t.Dims[ax] * inner;
                Kernels.CopyBlock(Eager.Data<T>(t), r, outer, len, off, total);
                off += len;
            }
            return r;
        }
    }

    readonly struct StackMove(Tensor[] xs, int ax, int[] od) : IMove
    {
        public Array Run<T>() where T : unmanaged
        {
            int outer = Kernels.Product(od, 0, ax), chunk = Kernels.Product(od, ax + 1);
            var r = new T[Kernels.Product(od)];
            for (int i = 0; i < xs.Length; i++) Kernels.CopyBlock(Eager.Data<T>(xs[i]), r, outer, chunk, i * chunk, xs.Length * chunk);
            return r;
        }
    }

    readonly struct SliceMove(Tensor x, int outer, int len, int off, int total) : IMove
    {
        public Array Run<T>() where T : unmanaged => Kernels.SliceBlock(x.Span<T>(), outer, len, off, total);
    }

    internal static Array Transpose(Tensor x, int[] perm) => At(x.DType, new TransposeMove(x, perm));
    internal static Array Broadcast(Tensor x, int[] od) => At(x.DType, new BroadcastMove(x, od));
    internal static Array Take(Tensor x, int outer, int n, int inner, int[] idx) => At(x.DType, new TakeMove(x, outer, n, inner, idx));
    internal static Array Concat(Tensor[] xs, int ax, int[] od, DType dt) => At(dt, new ConcatMove(xs, ax, od));
    internal static Array Stack(Tensor[] xs, int ax, int[] od, DType dt) => At(dt, new StackMove(xs, ax, od));
    internal static Array Slice(Tensor x, int outer, int len, int off, int total) => At(x.DType, new SliceMove(x, outer, len, off, total));
}
