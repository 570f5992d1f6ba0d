using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// One-object tensors (issue 20, and the storage of issue 13): a tensor in host memory holds its array and an interned
/// aval; equal shapes, dtypes and weak flags share one aval object, so the jit's guard compares avals by reference, with
/// a structural fallback for an aval that is not interned.
/// </summary>
public class TensorStorageTests
{
    /// <summary>Shapes of rank 0 to 4; vectors and matrices past the intern table's indexed sizes (1024, 64) too.</summary>
    static readonly Gen<int[]> Dims = Gen.Choose(0, 4).SelectMany(rank =>
        (rank == 1 ? Gen.Choose(0, 1100) : Gen.Choose(0, rank == 2 ? 70 : 6)).ArrayOf(rank));

    [Fact]
    public void Equal_shapes_dtypes_and_weak_flags_share_one_aval_whoever_made_the_tensor() =>
        Prop.ForAll(Dims.ToArbitrary(), dims =>
        {
            int n = dims.Aggregate(1, (a, d) => a * d);
            var a = new Tensor(new float[n], dims);
            var b = Zeros(dims);
            var c = a + 1.0;
            var d = Reshape(Tensor.FromArray(new float[n]), dims);
            var e = new Tensor(new double[n], dims);
            var copy = (int[])dims.Clone();
            var f = new Tensor(new float[n], copy);
            if (copy.Length > 0) copy[0]++;   // the tensor does not keep the caller's array
            return ReferenceEquals(a.Aval, b.Aval) && ReferenceEquals(a.Aval, c.Aval) && ReferenceEquals(a.Aval, d.Aval)
                && ReferenceEquals(a.Aval, f.Aval) && f.Shape.SequenceEqual(dims)
                && !ReferenceEquals(a.Aval, e.Aval) && e.Shape.SequenceEqual(dims) && e.DType == DType.Float64
                && a.Aval.Equals(new Aval(dims, DType.Float32));
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void A_tensor_in_host_memory_is_read_through_its_own_array()
    {
        var data = new float[] { 1, 2, 3, 4, 5, 6 };
        var storage = new ManagedStorage(data);
        var t = new Tensor(storage, [2, 3]);
        // no copy: the storage view and the eager span are the caller's array
        Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(t.Storage.HostSpan<float>()), ref data[0]));
        Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(t.Span<float>()), ref data[0]));
        Assert.Equal(DType.Float32, t.Storage.DType);
        Assert.Equal(6, t.Storage.Length);
        Assert.Throws<InvalidOperationException>(() => t.Storage.HostSpan<double>().Length);
        Assert.Throws<ArgumentException>(() => new Tensor(storage, [4, 2]));
        Assert.Throws<ArgumentException>(() => new Tensor(new float[2], [-1, -2]));
    }

    [Fact]
    public void A_weak_scalar_keeps_its_exact_value_eagerly_and_through_the_jit()
    {
        var third = new Tensor(1.0 / 3);
        Assert.True(third.IsWeak);
        Assert.Equal(1.0 / 3, (double)third);
        Assert.Equal((float)(1.0 / 3), third.ToFloatArray()[0]);
        var f64 = Tensor.Scalar(0, DType.Float64);
        Assert.Equal(1.0 / 3, (double)(third + f64));
        Expression<Func<Tensor, Tensor, Tensor>> add = (a, b) => a + b;
        var jitted = add.Jit();
        Assert.Equal(1.0 / 3, (double)jitted(third, f64));
        Assert.Equal((float)(1.0 / 3) + 1f, (float)(double)jitted(third, Tensor.Scalar(1, DType.Float32)));
    }

    [Fact]
    public void The_jit_guard_takes_equal_shapes_from_any_constructor_and_respecialises_on_dtype_and_statics()
    {
        Expression<Func<Tensor, int, Tensor>> f = (x, k) => x * (double)k;
        var jitted = f.Jit();
        var a = jitted(new Tensor(new float[] { 1, 2, 3 }), 2);
        var b = jitted(Ones([3]), 2);
        var c = jitted(Tensor.FromArray(new[] { 1.0, 2.0, 3.0 }, DType.Float32), 2);
        Assert.Equal(1, Ad.JitCompilations(jitted));
        Assert.Equal([2f, 4f, 6f], a.ToFloatArray());
        Assert.Equal([2f, 2f, 2f], b.ToFloatArray());
        Assert.Equal(a.ToFloatArray(), c.ToFloatArray());
        Assert.True(ReferenceEquals(a.Aval, b.Aval));
        jitted(new Tensor(new double[] { 1, 2, 3 }), 2);
        Assert.Equal(2, Ad.JitCompilations(jitted));
        Assert.Equal([3f, 6f, 9f], jitted(new Tensor(new float[] { 1, 2, 3 }), 3).ToFloatArray());
        Assert.Equal(3, Ad.JitCompilations(jitted));
        jitted(new Tensor(new float[] { 1, 2, 3 }), 2);
        Assert.Equal(3, Ad.JitCompilations(jitted));
    }

    [Fact]
    public void A_tensor_whose_aval_is_not_interned_passes_the_guard_by_its_structural_fallback()
    {
        Expression<Func<Tensor, Tensor>> f = x => Tanh(x) + 1.0;
        var jitted = f.Jit();
        var interned = new Tensor(new float[] { 0.5f, -1 });
        var expected = jitted(interned).ToFloatArray();
        // what a tensor made after the intern table filled up looks like: an equal aval that is another object
        var loose = new Tensor(new float[] { 0.5f, -1 }, new Aval([2], DType.Float32));
        Assert.False(ReferenceEquals(loose.Aval, interned.Aval));
        Assert.Equal(expected, jitted(loose).ToFloatArray());
        Assert.Equal(1, Ad.JitCompilations(jitted));
        Assert.Throws<ArgumentNullException>(() => jitted(null!));
    }
}
