from .text_bank import bank_state, build_model, draw_text_banks

__all__ = ['bank_state', 'build_model', 'draw_text_banks']
