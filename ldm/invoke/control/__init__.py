"""ControlNet units: preprocessors that turn a control image into a model's map, and the residuals a
unit adds to the UNet at each denoising step."""
