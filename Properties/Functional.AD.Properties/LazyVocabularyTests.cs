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

    /// <summary><c>a => Np.Sum(Np.Tanh(a) * a)</c>, or with <c>Np.Cumsum(a, 1)</c> for the tanh, in the fresh copy's types.</summary>
    static LambdaExpression Program(FreshLibrary lib, bool cumsum)
    {
        var np = lib.T("Np");
        var a = Expression.Parameter(lib.Tensor, "a");
        Expression inner = cumsum
            ? Expression.Call(np.GetMethod("Cumsum", [lib.Tensor, typeof(int), typeof(bool)])!, a, Expression.Constant(1), Expression.Constant(false))
            : Expression.Call(np.GetMethod("Tanh", [lib.Tensor])!, a);
        var product = Expression.Multiply(inner, a);
        var sum = Expression.Call(np.GetMethod("Sum", [lib.Tensor, typeof(int?), typeof(bool)])!, product, Expression.Constant(null, typeof(int?)), Expression.Constant(false));
        return Expression.Lambda(typeof(Func<,>).MakeGenericType(lib.Tensor, lib.Tensor), sum, a);
    }

    static void AgreesWithCentralDifferences(FreshLibrary lib, LambdaExpression f, double[] x, int[] dims, double[] grad)
    {
        var eager = f.Compile();
        Assert.Equal(x.Length, grad.Length);
        for (int i = 0; i < x.Length; i++)
        {
            const double h = 1e-6;
            var up = (double[])x.Clone(); up[i] += h;
            var down = (double[])x.Clone(); down[i] -= h;
            double fd = (lib.Value(eager, lib.NewTensor(up, dims)) - lib.Value(eager, lib.NewTensor(down, dims))) / (2 * h);
            Assert.True(Math.Abs(fd - grad[i]) <= 1e-6 * (1 + Math.Abs(fd)), $"element {i}: the jitted gradient {grad[i]:R}, central differences {fd:R}");
        }
    }

    [Fact]
    public void A_program_of_core_primitives_leaves_the_vocabulary_undeclared_and_a_vocabulary_call_then_declares_it()
    {
        var alc = new AssemblyLoadContext("fresh library", isCollectible: true);
        try
        {
            var lib = new FreshLibrary(alc);
            double[] x = [0.5, -1, 2, 3, 0.25, 1.5];
            int[] dims = [2, 3];

            var core = Program(lib, cumsum: false);
            AgreesWithCentralDifferences(lib, core, x, dims, lib.JitGrad(core, lib.NewTensor(x, dims)));
            Assert.False(lib.Declared("cumsum"), "differentiating and jitting a program of core primitives declared the vocabulary");

            var vocabulary = Program(lib, cumsum: true);
            AgreesWithCentralDifferences(lib, vocabulary, x, dims, lib.JitGrad(vocabulary, lib.NewTensor(x, dims)));
            Assert.True(lib.Declared("cumsum"));
        }
        finally { alc.Unload(); }
    }

    [Fact]
    public void Threads_that_first_use_the_vocabulary_at_once_all_get_the_declared_table()
    {
        var alc = new AssemblyLoadContext("fresh library", isCollectible: true);
        try
        {
            var lib = new FreshLibrary(alc);
            double[] x = [0.5, -1, 2, 3, 0.25, 1.5];
            int[] dims = [2, 3];
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
                    results[i] = (f, lib.JitGrad(f, lib.NewTensor(x, dims)));
                }
                catch (Exception e) { errors[i] = e; }
            })).ToArray();
            foreach (var t in threads) t.Start();
            start.Set();
            foreach (var t in threads) t.Join();
            Assert.All(errors, e => Assert.Null(e));
            foreach (var (f, grad) in results) AgreesWithCentralDifferences(lib, f, x, dims, grad);
        }
        finally { alc.Unload(); }
    }

    /// <summary><c>a => Np.Sum(Np.Split(a, 3, 1)[1] * Np.Split(a, 3, 1)[2])</c> in the fresh copy's types: pieces of a split, read by index.</summary>
    static LambdaExpression SplitProgram(FreshLibrary lib)
    {
        var np = lib.T("Np");
        var a = Expression.Parameter(lib.Tensor, "a");
        var split = np.GetMethod("Split", [lib.Tensor, typeof(int), typeof(int)])!;
        Expression Piece(int i) => Expression.ArrayIndex(Expression.Call(split, a, Expression.Constant(3), Expression.Constant(1)), Expression.Constant(i));
        var sum = Expression.Call(np.GetMethod("Sum", [lib.Tensor, typeof(int?), typeof(bool)])!, Expression.Multiply(Piece(1), Piece(2)),
            Expression.Constant(null, typeof(int?)), Expression.Constant(false));
        return Expression.Lambda(typeof(Func<,>).MakeGenericType(lib.Tensor, lib.Tensor), sum, a);
    }

    [Theory]
    [InlineData("cumsum")]
    [InlineData("split")]
    public void A_vocabulary_call_read_first_in_a_fresh_table_is_differentiated_correctly(string which)
    {
        var alc = new AssemblyLoadContext("fresh library", isCollectible: true);
        try
        {
            var lib = new FreshLibrary(alc);
            double[] x = [0.5, -1, 2, 3, 0.25, 1.5];
            int[] dims = [2, 3];
            var f = which == "split" ? SplitProgram(lib) : Program(lib, cumsum: true);
            AgreesWithCentralDifferences(lib, f, x, dims, lib.JitGrad(f, lib.NewTensor(x, dims)));
        }
        finally { alc.Unload(); }
    }
}
