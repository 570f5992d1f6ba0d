namespace Functional.AD;

// The pooling layers of CNNs, PyTorch's spellings over Lax.ReduceWindowMax / Lax.ReduceWindowMean (one primitive each;
// see Primitives/Prims.Pool.cs). Each form is its own overload, so every one can be written inside an expression.
public static partial class Np
{
    /// <summary>
    /// 2-D max pooling of an NCHW tensor with a square window of <paramref name="kernel"/>, stride <paramref name="kernel"/>
    /// and no padding, as PyTorch's <c>max_pool2d(x, k)</c>: <c>out[n, c, i, j] = max over the k x k window at (i k, j k)</c>.
    /// The gradient goes to the first maximum of each window in row-major order (JAX's rule). Takes every number dtype.
    /// Example: <c>MaxPool2d(x, 2)</c> on float32[64, 16, 8, 8] is float32[64, 16, 4, 4].
    /// </summary>
    /// <param name="x">An NCHW tensor (batch, channels, height, width).</param>
    /// <param name="kernel">The window's height and width.</param>
    /// <returns>float32[N, C, (H - k) / k + 1, (W - k) / k + 1] (x's dtype).</returns>
    /// <exception cref="ShapeException">x is not of rank 4, or the window is larger than the input.</exception>
    public static Tensor MaxPool2d(Tensor x, int kernel) => MaxPool2d(x, kernel, kernel, 0);

    /// <summary>
    /// 2-D max pooling of an NCHW tensor, as PyTorch's <c>max_pool2d(x, kernel, stride, padding)</c>: a square window,
    /// the same stride along height and width, and <paramref name="padding"/> elements of -inf on every side (at most half
    /// the window, as PyTorch requires). Example: <c>MaxPool2d(x, 3, 2, 1)</c> (ResNet's stem pool).
    /// </summary>
    /// <param name="x">An NCHW tensor.</param><param name="kernel">The window's height and width.</param>
    /// <param name="stride">The step between windows.</param><param name="padding">Implicit -inf padding on each side (0 .. kernel / 2).</param>
    /// <returns>The pooled tensor: <c>(H + 2 p - k) / s + 1</c> rows and likewise columns.</returns>
    /// <exception cref="ShapeException">x is not of rank 4, or the window is larger than the padded input.</exception>
    public static Tensor MaxPool2d(Tensor x, int kernel, int stride, int padding) =>
        WindowOps.Max(x, Pools.Params("Np.MaxPool2d", [kernel, kernel], [stride, stride], [padding, padding]), "Np.MaxPool2d");

    /// <summary>
    /// 2-D max pooling of an NCHW tensor with a (height, width) window, strides and padding, as PyTorch's
    /// <c>max_pool2d(x, (kh, kw), (sh, sw), (ph, pw))</c>. Example: <c>MaxPool2d(x, new[] { 2, 3 }, new[] { 2, 3 }, new[] { 0, 1 })</c>.
    /// </summary>
    /// <param name="x">An NCHW tensor.</param><param name="kernel">The window's (height, width).</param>
    /// <param name="stride">The (vertical, horizontal) steps.</param><param name="padding">The (vertical, horizontal) padding on each side.</param>
    /// <returns>The pooled tensor.</returns>
    /// <exception cref="ShapeException">x is not of rank 4, or the window is larger than the padded input.</exception>
    public static Tensor MaxPool2d(Tensor x, int[] kernel, int[] stride, int[] padding) =>
        WindowOps.Max(x, Pools.Params("Np.MaxPool2d", kernel, stride, padding), "Np.MaxPool2d");

    /// <summary>
    /// 2-D average pooling of an NCHW tensor with a square window of <paramref name="kernel"/>, stride <paramref name="kernel"/>
    /// and no padding, as PyTorch's <c>avg_pool2d(x, k)</c>. Float dtypes. Example: <c>AvgPool2d(x, 2)</c>.
    /// </summary>
    /// <param name="x">An NCHW tensor.</param><param name="kernel">The window's height and width.</param>
    /// <returns>The means of the windows.</returns>
    /// <exception cref="ShapeException">x is not of rank 4, is not a float tensor, or the window is larger than the input.</exception>
    public static Tensor AvgPool2d(Tensor x, int kernel) => AvgPool2d(x, kernel, kernel, 0);

    /// <summary>
    /// 2-D average pooling of an NCHW tensor, as PyTorch's <c>avg_pool2d(x, kernel, stride, padding)</c> with its default
    /// <c>count_include_pad=True</c>: each window's sum, zeros in the padding, divided by <c>kernel * kernel</c>.
    /// Example: <c>AvgPool2d(x, 3, 1, 1)</c> keeps the height and width.
    /// </summary>
    /// <param name="x">An NCHW tensor.</param><param name="kernel">The window's height and width.</param>
    /// <param name="stride">The step between windows.</param><param name="padding">Implicit zero padding on each side (0 .. kernel / 2).</param>
    /// <returns>The means of the windows.</returns>
    /// <exception cref="ShapeException">x is not of rank 4, is not a float tensor, or the window is larger than the padded input.</exception>
    public static Tensor AvgPool2d(Tensor x, int kernel, int stride, int padding) =>
        WindowOps.Mean(x, Pools.Params("Np.AvgPool2d", [kernel, kernel], [stride, stride], [padding, padding]), "Np.AvgPool2d");

    /// <summary>
    /// 2-D average pooling of an NCHW tensor with a (height, width) window, strides and padding, as PyTorch's
    /// <c>avg_pool2d</c> (<c>count_include_pad=True</c>). Example: <c>AvgPool2d(x, new[] { 2, 2 }, new[] { 1, 1 }, new[] { 1, 0 })</c>.
    /// </summary>
    /// <param name="x">An NCHW tensor.</param><param name="kernel">The window's (height, width).</param>
    /// <param name="stride">The (vertical, horizontal) steps.</param><param name="padding">The (vertical, horizontal) zero padding on each side.</param>
    /// <returns>The means of the windows (divided by <c>kh * kw</c>).</returns>
    /// <exception cref="ShapeException">x is not of rank 4, is not a float tensor, or the window is larger than the padded input.</exception>
    public static Tensor AvgPool2d(Tensor x, int[] kernel, int[] stride, int[] padding) =>
        WindowOps.Mean(x, Pools.Params("Np.AvgPool2d", kernel, stride, padding), "Np.AvgPool2d");

    /// <summary>
    /// 1-D max pooling of an NCL tensor (batch, channels, length), window and stride <paramref name="kernel"/>, as PyTorch's
    /// <c>max_pool1d(x, k)</c>. Example: <c>MaxPool1d(x, 2)</c> on float32[8, 4, 10] is float32[8, 4, 5].
    /// </summary>
    /// <param name="x">An NCL tensor.</param><param name="kernel">The window's length.</param>
    /// <returns>The pooled tensor.</returns>
    /// <exception cref="ShapeException">x is not of rank 3, or the window is longer than the input.</exception>
    public static Tensor MaxPool1d(Tensor x, int kernel) => MaxPool1d(x, kernel, kernel, 0);

    /// <summary>
    /// 1-D max pooling of an NCL tensor, as PyTorch's <c>max_pool1d(x, kernel, stride, padding)</c>.
    /// Example: <c>MaxPool1d(x, 3, 1, 1)</c> keeps the length.
    /// </summary>
    /// <param name="x">An NCL tensor.</param><param name="kernel">The window's length.</param>
    /// <param name="stride">The step between windows.</param><param name="padding">Implicit -inf padding on each side (0 .. kernel / 2).</param>
    /// <returns>The pooled tensor.</returns>
    /// <exception cref="ShapeException">x is not of rank 3, or the window is longer than the padded input.</exception>
    public static Tensor MaxPool1d(Tensor x, int kernel, int stride, int padding) =>
        WindowOps.Max(x, Pools.Params("Np.MaxPool1d", [kernel], [stride], [padding]), "Np.MaxPool1d");

    /// <summary>
    /// 1-D average pooling of an NCL tensor, window and stride <paramref name="kernel"/>, as PyTorch's <c>avg_pool1d(x, k)</c>.
    /// Example: <c>AvgPool1d(x, 2)</c>.
    /// </summary>
    /// <param name="x">An NCL tensor.</param><param name="kernel">The window's length.</param>
    /// <returns>The means of the windows.</returns>
    /// <exception cref="ShapeException">x is not of rank 3, is not a float tensor, or the window is longer than the input.</exception>
    public static Tensor AvgPool1d(Tensor x, int kernel) => AvgPool1d(x, kernel, kernel, 0);

    /// <summary>
    /// 1-D average pooling of an NCL tensor, as PyTorch's <c>avg_pool1d(x, kernel, stride, padding)</c> (<c>count_include_pad=True</c>).
    /// Example: <c>AvgPool1d(x, 3, 1, 1)</c>.
    /// </summary>
    /// <param name="x">An NCL tensor.</param><param name="kernel">The window's length.</param>
    /// <param name="stride">The step between windows.</param><param name="padding">Implicit zero padding on each side (0 .. kernel / 2).</param>
    /// <returns>The means of the windows (divided by the kernel).</returns>
    /// <exception cref="ShapeException">x is not of rank 3, is not a float tensor, or the window is longer than the padded input.</exception>
    public static Tensor AvgPool1d(Tensor x, int kernel, int stride, int padding) =>
        WindowOps.Mean(x, Pools.Params("Np.AvgPool1d", [kernel], [stride], [padding]), "Np.AvgPool1d");
}

/// <summary>The window parameters of PyTorch's pooling spellings: the spatial axes trail two unpooled ones (N, C).</summary>
internal static class Pools
{
    /// <summary>Window, strides and symmetric padding of the spatial axes, checked as PyTorch checks them (padding at most
    /// half the window), as parameters over all axes (batch and channels: window 1, stride 1, no padding).</summary>
    public static WindowParams Params(string op, int[] kernel, int[] stride, int[] padding)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(stride);
        ArgumentNullException.ThrowIfNull(padding);
        int d = kernel.Length;
        if (stride.Length != d || padding.Length != d)
            throw new ArgumentException($"{op}: kernel, stride and padding need one entry per spatial axis ({d}); got {stride.Length} strides and {padding.Length} paddings");
        for (int i = 0; i < d; i++)
            if (padding[i] < 0 || 2 * padding[i] > kernel[i])
                throw new ArgumentOutOfRangeException(nameof(padding), $"{op}: padding {padding[i]} must be between 0 and half the kernel ({kernel[i]} / 2), as PyTorch requires");
        var pads = new int[2 * (d + 2)];
        for (int i = 0; i < d; i++) pads[2 * (i + 2)] = pads[2 * (i + 2) + 1] = padding[i];
        return WindowParams.Of(op, [1, 1, .. kernel], [1, 1, .. stride], pads, null);
    }
}
