using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.Loader;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>
/// The vocabulary families are declared on first need (see <c>Prims.Vocabulary</c>). In this test process another test
/// has long declared them, so each test here loads a fresh copy of the library (its own statics, its own table) into a
/// collectible load context and drives it through reflection, as a fresh process would: a program of core primitives
/// leaves the vocabulary undeclared, and a program that calls a vocabulary method first reads and differentiates
/// correctly (checked against central differences in float64).
/// </summary>
public class LazyVocabularyTests
{
    /// <summary>A fresh copy of Functional.AD: its types by name, and a field of its primitive table.</summary>
    sealed class FreshLibrary
    {
        readonly Assembly asm;
        public FreshLibrary(AssemblyLoadContext alc) => asm = alc.LoadFromAssemblyPath(typeof(Np).Assembly.Location);
        public Type T(string name) => asm.GetType("Functional.AD." + name, throwOnError: true)!;
        public Type Tensor => T("Tensor");

        /// <summary>Whether the table's backing field of a vocabulary primitive is set (the vocabulary declared).</summary>
        public bool Declared(string backingField) =>
            T("Prims").GetField(backingField, BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null) is not null;

        /// <summary><c>Ad.Jit(Ad.Grad(f))</c> of a lambda over one tensor, called on <paramref name="x"/>: the gradient as doubles.</summary>
        public double[] JitGrad(LambdaExpression f, object x)
        {
            var grad = T("Ad").GetMethods().Single(m => m.Name == "Grad" && m.GetGenericArguments().Length == 2 && m.GetParameters().Length == 1)
                .MakeGenericMethod(Tensor, Tensor).Invoke(null, [f])!;
            var jit = T("Ad").GetMethods().Single(m => m.Name == "Jit" && m.GetGenericArguments().Length == 2 && m.GetParameters().Length == 1)
                .MakeGenericMethod(Tensor, Tensor).Invoke(null, [grad])!;
            var g = ((Delegate)jit).DynamicInvoke(x)!;
            return (double[])Tensor.GetMethod("ToDoubleArray")!.Invoke(g, null)!;
        }

        public object NewTensor(double[] values, int[] dims) => Activator.CreateInstance(Tensor, values, dims)!;

        public double Value(Delegate f, object x) => (double)Tensor.GetMethod("Item")!.Invoke(f.DynamicInvoke(x), [Array.Empty<int>()])!;
    }

    /// <summary>The operand every program here is differentiated at: a [2, 3] float64 tensor.</summary>
    static readonly double[] X = [0.5, -1, 2, 3, 0.25, 1.5];
    static readonly int[] Dims = [2, 3];

    /// <summary>Runs <paramref name="test"/> on a fresh copy of the library, unloaded afterwards.</summary>
    static void InFreshLibrary(Action<FreshLibrary> test)
    {
        var alc = new AssemblyLoadContext("fresh library", isCollectible: true);
        try { test(new FreshLibrary(alc)); }
        finally { alc.Unload(); }
    }

    /// <summary><c>a => Np.Sum(body(a), null, false)</c> in the fresh copy's types.</summary>
    static LambdaExpression SumOf(FreshLibrary lib, Func<Type, ParameterExpression, Expression> body)
    {
        var np = lib.T("Np");
        var a = Expression.Parameter(lib.Tensor, "a");
        var sum = Expression.Call(np.GetMethod("Sum", [lib.Tensor, typeof(int?), typeof(bool)])!, body(np, a), Expression.Constant(null, typeof(int?)), Expression.Constant(false));
        return Expression.Lambda(typeof(Func<,>).MakeGenericType(lib.Tensor, lib.Tensor), sum, a);
    }

    /// <summary><c>a => Np.Sum(Np.Tanh(a) * a)</c>, or with <c>Np.Cumsum(a, 1)</c> for the tanh, in the fresh copy's types.</summary>
    static LambdaExpression Program(FreshLibrary lib, bool cumsum) => SumOf(lib, (np, a) => Expression.Multiply(cumsum
        ? Expression.Call(np.GetMethod("Cumsum", [lib.Tensor, typeof(int), typeof(bool)])!, a, Expression.Constant(1), Expression.Constant(false))
        : Expression.Call(np.GetMethod("Tanh", [lib.Tensor])!, a), a));

    /// <summary><c>a => Np.Sum(Np.Split(a, 3, 1)[1] * Np.Split(a, 3, 1)[2])</c> in the fresh copy's types: pieces of a split, read by index.</summary>
    static LambdaExpression SplitProgram(FreshLibrary lib) => SumOf(lib, (np, a) =>
    {
        var split = np.GetMethod("Split", [lib.Tensor, typeof(int), typeof(int)])!;
        Expression Piece(int i) => Expression.ArrayIndex(Expression.Call(split, a, Expression.Constant(3), Expression.Constant(1)), Expression.Constant(i));
        return Expression.Multiply(Piece(1), Piece(2));
    });

    /// <summary>The jitted gradient of <paramref name="f"/> at <see cref="X"/>, checked against central differences in float64.</summary>
    static void GradientAgrees(FreshLibrary lib, LambdaExpression f) => AgreesWithCentralDifferences(lib, f, lib.JitGrad(f, lib.NewTensor(X, Dims)));

    static void AgreesWithCentralDifferences(FreshLibrary lib, LambdaExpression f, double[] grad)
    {
        var eager = f.Compile();
        Assert.Equal(X.Length, grad.Length);
        for (int i = 0; i < X.Length; i++)
        {
            const double h = 1e-6;
            var up = (double[])X.Clone(); up[i] += h;
            var down = (double[])X.Clone(); down[i] -= h;
            double fd = (lib.Value(eager, lib.NewTensor(up, Dims)) - lib.Value(eager, lib.NewTensor(down, Dims))) / (2 * h);
            Assert.True(Math.Abs(fd - grad[i]) <= 1e-6 * (1 + Math.Abs(fd)), $"element {i}: the jitted gradient {grad[i]:R}, central differences {fd:R}");
        }
    }

    [Fact]
    public void A_program_of_core_primitives_leaves_the_vocabulary_undeclared_and_a_vocabulary_call_then_declares_it() => InFreshLibrary(lib =>
    {
        GradientAgrees(lib, Program(lib, cumsum: false));
        Assert.False(lib.Declared("cumsum"), "differentiating and jitting a program of core primitives declared the vocabulary");
        GradientAgrees(lib, Program(lib, cumsum: true));
        Assert.True(lib.Declared("cumsum"));
    });

    [Fact]
    public void Threads_that_first_use_the_vocabulary_at_once_all_get_the_declared_table() => InFreshLibrary(lib =>
    {
        // four threads read, differentiate and run a vocabulary call in a table that has not declared it
        using var start = new ManualResetEventSlim();
        var results = new (LambdaExpression F, double[] Grad)[4];
        var errors = new Exception?[4];
        var threads = Enumerable.Range(0, 4).Select(i => new Thread(() =>
        {
            try
            {
                start.Wait();
                var f = Program(lib, cumsum: true);
                results[i] = (f, lib.JitGrad(f, lib.NewTensor(X, Dims)));
            }
            catch (Exception e) { errors[i] = e; }
        })).ToArray();
        foreach (var t in threads) t.Start();
        start.Set();
        foreach (var t in threads) t.Join();
        Assert.All(errors, e => Assert.Null(e));
        foreach (var (f, grad) in results) AgreesWithCentralDifferences(lib, f, grad);
    });

    [Theory]
    [InlineData("cumsum")]
    [InlineData("split")]
    public void A_vocabulary_call_read_first_in_a_fresh_table_is_differentiated_correctly(string which) =>
        InFreshLibrary(lib => GradientAgrees(lib, which == "split" ? SplitProgram(lib) : Program(lib, cumsum: true)));
}
