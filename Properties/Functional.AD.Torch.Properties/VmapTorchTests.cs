using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Xunit;
using static Functional.AD.Np;
using static Functional.AD.Torch.Properties.SpecEqualityTests;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// Batched nodes on Torch (rewritten into unbatched primitives before lowering): <c>Ad.Vmap</c> of every batchable spec
/// (values, and per-example gradients) compiled for Torch equals the CPU backend's eager <c>Compile()</c> of the same
/// vmapped expression.
/// </summary>
public class VmapTorchTests
{
    const int Batch = 3;

    /// <summary>The specs Vmap can batch: those whose tensors never become C# scalars (the core tests that Vmap refuses the others).</summary>
    public static IEnumerable<object[]> BatchableSpecs => Specs.All.Where(s => !UsesScalars(s)).Select(s => new object[] { s.Name });

    static PrimitiveSpec Spec(string name) => Specs.All.Single(s => s.Name == name);

    /// <summary>True when the spec turns tensors into C# scalars (Vmap refuses a batch through those; the core tests that).</summary>
    static bool UsesScalars(PrimitiveSpec s) =>
        Reader.Read(s.Function).Graph.Nodes.Any(n => !n.IsConst && !n.IsInput && n.Kind is Kind.Double or Kind.Float or Kind.Bool);

    /// <summary>Example i of a batch built from one generated input: values scaled by 1 + i/4 (keeps every spec's domain), or shifted classes for OneHot.</summary>
    static Tensor Example(PrimitiveSpec s, Tensor x, int i) => s.Name == "OneHot"
        ? new Tensor(x.ToDoubleArray().Select(v => (v + i) % 4).ToArray(), x.Shape.ToArray()).AsType(x.DType)
        : Mul(x, new Tensor(1 + 0.25 * i));

    static Tensor[] Stacked(PrimitiveSpec s, Tensor[] x0) =>
        x0.Select(x => Stack(Enumerable.Range(0, Batch).Select(i => Example(s, x, i)).ToArray(), 0)).ToArray();

    [Theory]
    [MemberData(nameof(BatchableSpecs))]
    public void Vmap_on_torch_equals_vmap_on_cpu(string name)
    {
        var spec = Spec(name);
        int arity = spec.Function.Parameters.Count;
        // every argument batched; and, with two or more, the first one unbatched (its nodes meet the batch with size-1 batch axes)
        var axesSets = new List<int?[]> { Enumerable.Repeat((int?)0, arity).ToArray() };
        if (arity > 1) axesSets.Add([null, .. Enumerable.Repeat((int?)0, arity - 1)]);
        foreach (var inAxes in axesSets)
        {
            var vm = Ad.VmapCore(spec.Function, spec.Function.Type, inAxes, null, null);
            var torch = JitTorch(vm, TorchBackend.Cpu);
            var cpu = vm.Compile();
            var property = Prop.ForAll(Arb.From(spec.Inputs(DType.Float64)), x0 =>
            {
                var xs = Stacked(spec, x0).Select((x, j) => inAxes[j] is null ? x0[j] : x).ToArray();
                var want = (Tensor)Call(cpu, xs)!;
                var got = (Tensor)Call(torch, xs)!;
                var bad = Close("vmapped value", got, want, DType.Float64);
                return (bad == "").Label($"{bad}\ninAxes [{string.Join(", ", inAxes.Select(a => a?.ToString() ?? "null"))}], inputs {string.Join(", ", xs.Select(x => x.Aval))}\n{Ad.Show(vm)}");
            });
            Check.One(Config.QuickThrowOnFailure.WithMaxTest(4).WithQuietOnSuccess(true), property);
        }
    }

    [Theory]
    [MemberData(nameof(BatchableSpecs))]
    public void Per_example_gradients_on_torch_equal_those_on_cpu(string name)
    {
        var spec = Spec(name);
        var check = new SpecCheck(spec);
        var grad = check.Gradient;   // (xs tuple, w) => xs tuple
        var vm = Ad.VmapCore(grad, grad.Type, [0, 0], null, null);
        var torch = JitTorch(vm, TorchBackend.Cpu);
        var cpu = vm.Compile();
        var tupleType = grad.Parameters[0].Type;
        var gen = spec.Inputs(DType.Float64).SelectMany(x => Gen.Choose(0, 1 << 30).Select(seed => (x, seed)));
        var property = Prop.ForAll(Arb.From(gen), c =>
        {
            var (x0, seed) = c;
            var xs = Stacked(spec, x0);
            var shape = check.Evaluate(x0).Shape;
            var w = Stack(Enumerable.Range(0, Batch).Select(i => Gens.Weights(shape, DType.Float64, seed + i)).ToArray(), 0);
            var packed = Activator.CreateInstance(tupleType, xs.Cast<object>().ToArray())!;
            var want = Call(cpu, packed, w)!;
            var got = Call(torch, packed, w)!;
            var bad = new List<string>();
            for (int j = 0; j < xs.Length; j++)
            {
                var field = tupleType.GetField("Item" + (j + 1))!;
                bad.Add(Close($"gradient {j}", (Tensor)field.GetValue(got)!, (Tensor)field.GetValue(want)!, DType.Float64));
            }
            bad.RemoveAll(b => b == "");
            return (bad.Count == 0).Label($"{string.Join("; ", bad)}\ninputs {string.Join(", ", xs.Select(x => x.Aval))}\n{Ad.Show(vm)}");
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(3).WithQuietOnSuccess(true), property);
    }

    public record Mlp(Tensor W1, Tensor B1, Tensor W2);

    static readonly Expression<Func<Mlp, Tensor, Tensor>> Loss =
        (p, x) => Sum(Softplus(Dot(p.W2, Tanh(Dot(p.W1, x) + p.B1))), null, false) + Mean(LogSoftmax(Dot(p.W1, x), -1), null, false);

    [Fact]
    public void Per_example_mlp_gradients_run_on_the_device_with_no_host_copies()
    {
        var grad = Ad.Grad(Loss);
        var perExample = Ad.Vmap(grad, inAxes: [null, 0]);
        var step = perExample.JitTorch(TorchBackend.Cpu);
        var key = PrngKey.Create(3);
        var p = Tree.Normal(key, new Mlp(Zeros([4, 3], DType.Float64), Zeros([4], DType.Float64), Zeros([2, 4], DType.Float64)));
        var xs = Rng.Normal(PrngKey.Create(4), [5, 3], DType.Float64);
        var want = perExample.Compile()(p, xs);
        var pd = TorchTensors.ToDevice(p, TorchBackend.Cpu);
        var xd = xs.ToDevice(TorchBackend.Cpu);
        step(pd, xd);   // compile once
        long down = TorchStorage.DeviceToHost, up = TorchStorage.HostToDevice;
        var got = step(pd, xd);
        Assert.Equal(0, TorchStorage.DeviceToHost - down);
        Assert.Equal(0, TorchStorage.HostToDevice - up);
        foreach (var (g, c, what) in new[] { (got.W1, want.W1, "W1"), (got.B1, want.B1, "B1"), (got.W2, want.W2, "W2") })
        {
            Assert.Equal(c.Shape.ToArray(), g.Shape.ToArray());
            Assert.True(g.ToHost().AllClose(c, 1e-9, 1e-12), $"{what}: Torch {g.ToHost()} vs CPU {c}");
        }
    }

    [Fact]
    public void A_host_condition_selects_between_batched_and_unbatched_branches()
    {
        // c ? a : b with a batched and b not: both are brought to the batched shape, the host condition picks one
        // (a conditional with sub-graphs, and a plain select of two values)
        Expression<Func<Tensor, Tensor, double, Tensor>>[] fs =
        [
            (x, y, c) => Sum(c > 0 ? x * 2.0 : Sin(y), null, false) * x,
            (x, y, c) => (c > 0 ? x : y) * 3.0,
            // per-example gradients through a conditional: its transpose selects with the host condition (a batched select)
            Ad.Grad<Tensor, Tensor, double, Tensor>((x, y, c) => Sum((c > 0 ? x * x : Sin(y) * x) * y, null, false)),
        ];
        var xs = Rng.Normal(PrngKey.Create(1), [3, 4], DType.Float64);
        var y = Rng.Normal(PrngKey.Create(2), [4], DType.Float64);
        foreach (var f in fs)
        {
            var vm = Ad.Vmap(f, inAxes: [0, null, null]);
            var torch = vm.JitTorch(TorchBackend.Cpu);
            var cpu = vm.Compile();
            foreach (var c in new[] { 1.0, -1.0 })
            {
                var bad = Close($"c = {c}", torch(xs, y, c), cpu(xs, y, c), DType.Float64);
                Assert.True(bad == "", bad + "\n" + Ad.Show(vm));
            }
        }
    }

    [Fact]
    public void A_batched_condition_selects_per_example_on_torch()
    {
        // c ? a : b with c computed from the batched argument: both branches run on the device, a mask selects
        Expression<Func<Tensor, Tensor>> f = x => (double)Sum(x, null, false) > 0 ? x * 2.0 : Sin(x) - 1.0;
        var g = Ad.Grad<Tensor, Tensor>(x => Sum((double)Sum(x, null, false) > 0 ? x * x : Sin(x), null, false));
        var xs = Rng.Normal(PrngKey.Create(7), [16, 3], DType.Float64);
        foreach (var h in new[] { f, g })
        {
            var vm = Ad.Vmap(h, inAxes: [0]);
            var bad = Close("batched condition", vm.JitTorch(TorchBackend.Cpu)(xs), vm.Compile()(xs), DType.Float64);
            Assert.True(bad == "", bad + "\n" + Ad.Show(vm));
        }
    }

    [Fact]
    public void A_batched_select_on_a_host_condition_broadcasts_the_batch_axes()
    {
        // Where(bool, a, b) at batch count 1 (as derivative rules write it): a is [3, 4], b has a size-1 batch axis
        var b = new Builder();
        var c = b.Input(Kind.Bool, "c");
        var x = b.Input(Kind.Tensor, "x");
        var y = b.Input(Kind.Tensor, "y");
        var g = b.Finish([b.Apply(Prims.Where, [c, x, y], null, null, 1)]);
        var xs = Rng.Normal(PrngKey.Create(5), [3, 4], DType.Float64);
        var ys = Rng.Normal(PrngKey.Create(6), [1, 4], DType.Float64);
        var code = TorchCompiler.Compile(g, [null, xs.Aval, ys.Aval], TorchBackend.Cpu);
        Assert.Equal(new[] { 3, 4 }, code.OutAvals[0]!.Dims);
        foreach (var cond in new[] { true, false })
        {
            var got = TorchTensors.FromTorch((TorchSharp.torch.Tensor)code.Run([cond, xs.ToTorch(), ys.ToTorch()])[0]!, takeOwnership: true).ToHost();
            var want = cond ? xs : BroadcastTo(ys, [3, 4]);   // the CPU picks one branch; batch axes broadcast later
            Assert.True(got.AllClose(want, 1e-15, 0), $"c = {cond}: {got} vs {want}");
        }
    }

    [Fact]
    public void A_batched_gather_with_per_example_indices_is_one_gather_and_checks_its_indices()
    {
        // per-example indices: Take at batch count 1 becomes one gather over the batch (TakeBatched)
        Expression<Func<Tensor, Tensor, Tensor>> pick = (x, i) => Take(x, i, 0) * 2.0;
        var vm = Ad.Vmap(pick, inAxes: [0, 0]);
        var f = vm.JitTorch(TorchBackend.Cpu);
        var x = new Tensor(new double[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var idx = new Tensor(new double[] { 2, 0, 1, -1 }, [2, 2]);
        f(x, idx);
        long down = TorchStorage.DeviceToHost, up = TorchStorage.HostToDevice;
        var r = f(x, idx).ToHost();
        Assert.Equal(2, TorchStorage.HostToDevice - up);          // the two host arguments, nothing else
        // oracle: a loop over the batch
        var want = Enumerable.Range(0, 2).SelectMany(b => new[] { 0, 1 }.Select(q =>
        {
            int i = (int)idx.ToDoubleArray()[b * 2 + q];
            return 2 * x.ToDoubleArray()[b * 3 + (i < 0 ? i + 3 : i)];
        })).ToArray();
        Assert.Equal(want, r.ToDoubleArray());
        // an index out of range for its own example is an error, not a read of another example's row
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => f(x, new Tensor(new double[] { 0, 3, 0, 0 }, [2, 2])));
        Assert.Contains("index 3 is out of range", e.Message);
    }
}
