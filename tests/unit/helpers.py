import asyncio
from concurrent.futures import ThreadPoolExecutor


def run_async(coro):
    """Run a coroutine to completion in a thread of its own: the Playwright fixtures of the
    end-to-end tests keep an event loop running in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
