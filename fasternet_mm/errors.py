class UserInputError(Exception):
    """An error caused by the user's input (config, data, checkpoint).

    The tools print its message, which names the problem and the fix,
    without a traceback.
    """
